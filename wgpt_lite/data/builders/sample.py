"""The committed sample (``data/sample/``): a few seconds of speech and piano, made by the builders' own code.

It lets the tests and the first notebooks run with no system packages at all. Regenerate
it with ``python -m wgpt_lite data sample`` (needs the TTS voices and FluidSynth).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from wgpt_lite.audio import SAMPLE_RATE, normalise_peak
from wgpt_lite.data.builders.common import save_clip
from wgpt_lite.data.builders.music import piece_id, render_midi, score_notes, write_midi
from wgpt_lite.data.builders.speech import Voice, synthesize
from wgpt_lite.data.corpora import SAMPLE_DIR, SPECS, write_manifest

SAMPLE_SPEECH = (  # (split, voice, Bible reference, seconds kept)
    ("train", Voice("flite", "slt"), "Ge1:1-3", 6.5),
    ("train", Voice("espeak-ng", "en-gb-scotland+m3"), "Ps23:1-3", 6.5),
    ("validation", Voice("festival", "kal_diphone"), "Jn1:1-3", 6.0),
)
SAMPLE_MUSIC = (  # (split, music21 corpus path, start s, seconds kept)
    ("train", "joplin/maple_leaf_rag.mxl", 0.0, 7.0),
    ("train", "mozart/k545/movement1_exposition.mxl", 0.0, 7.0),
    ("validation", "bach/bwv66.6.mxl", 0.0, 6.5),
)


def build_sample(dest: Path = SAMPLE_DIR) -> Path:
    """Regenerate ``data/sample/{speech,music}`` (about 40 s, under 2 MB) with the builders' own code."""
    from music21 import corpus  # optional (the `data` extra): imported only to build

    for kind in ("speech", "music"):
        shutil.rmtree(dest / kind, ignore_errors=True)
        (dest / kind / "audio").mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="wgpt-sample-"))
    try:
        speech = []
        for split, voice, ref, seconds in SAMPLE_SPEECH:
            text = " ".join(
                line.split(" ", 1)[1]
                for line in subprocess.run(
                    ["bible", "-f", ref], capture_output=True, text=True, check=True
                ).stdout.splitlines()
            )
            wav = normalise_peak(synthesize(voice, text, work))[: int(seconds * SAMPLE_RATE)]
            speech.append(
                save_clip(
                    dest / "speech",
                    split,
                    f"{split}-{len(speech):02d}-{voice.slug}",
                    wav,
                    source=voice.engine,
                    speaker=voice.name,
                    piece=f"KJV {ref} (its first {seconds:g} s)",
                    text=text,
                )
            )
        music = []
        for split, path, start, seconds in SAMPLE_MUSIC:
            pid = piece_id(str(corpus.getWork(path)))
            notes = [
                (s - start, e - start, p)
                for s, e, p in score_notes(str(corpus.getWork(path)), start + seconds + 1)
                if s >= start
            ]
            midi = Path("midi") / f"{pid}.mid"
            (dest / "music" / "midi").mkdir(exist_ok=True)
            write_midi([n for n in notes if n[0] < seconds], dest / "music" / midi)
            wav = normalise_peak(render_midi(dest / "music" / midi, work / f"{pid}.wav"))[: int(seconds * SAMPLE_RATE)]
            music.append(
                save_clip(
                    dest / "music",
                    split,
                    f"{split}-{len(music):02d}-{pid}",
                    wav,
                    source="music21+fluidsynth",
                    speaker="FluidR3 GM piano",
                    piece=f"{path} (its first {seconds:g} s)",
                    midi=str(midi),
                )
            )
        for kind, rows in (("speech", speech), ("music", music)):
            write_manifest(
                dest / kind,
                SPECS[f"sample-{kind}"],
                rows,
                [],
                SPECS[f"sample-{kind}"].minutes,
                0.0,
                {"recipe": "python -m wgpt_lite data sample"},
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest
