"""How each corpus is made; imported only when a corpus is built (``wgpt_lite.corpora.build_corpus``).

- ``common``: the build itself (temporary folder, manifest, atomic publish), clips,
  worker processes, external tools;
- ``speech``: ``mini-speech`` (TTS voices reading the Bible, recorded Asterisk prompts);
- ``music``: ``mini-music`` (music21 scores -> MIDI -> FluidSynth piano);
- ``real``: ``librispeech`` (Hugging Face) and ``maestro`` (a local MAESTRO v3 folder);
- ``sample``: the few seconds committed in ``data/sample/``.
"""
