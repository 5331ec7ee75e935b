"""How each corpus is made; imported only when a corpus is built (``wgpt_lite.data.corpora.build_corpus``).

- ``common``: the build itself (temporary folder, manifest, atomic publish), clips,
  worker processes, external tools;
- ``speech``: ``mini-speech`` (TTS voices reading the Bible, recorded Asterisk prompts);
- ``music``: ``mini-music`` (music21 scores -> MIDI -> FluidSynth piano);
- ``librispeech``: LibriSpeech (Hugging Face hub or a local copy);
- ``maestro``: MAESTRO v3 (a local folder, or members fetched from the published zip);
- ``folder``: a corpus made of a folder of your own audio (``data build folder``);
- ``sample``: the few seconds committed in ``data/sample/``.
"""
