"""mini-speech: TTS voices reading the King James Bible, plus real recorded Asterisk prompts.

espeak-ng (8 accents x 17 variants), flite and festival voices read ~13 s passages of the
KJV (Debian's ``bible-kjv``). Validation and test hold out whole voices *and* whole books,
so a model is scored on voices and text it never heard. The ``real`` split joins recorded
English Asterisk prompts (Allison Smith, CC BY-SA 3.0) into 8-20 s clips: real speech, for
evaluation only.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
import torch

from wgpt_lite.audio import SAMPLE_RATE, load_audio, normalise_peak
from wgpt_lite.data.builders.common import (
    clip_problem,
    need_tool,
    pack_clips,
    parallel_map,
    run_tool,
    save_clip,
)
from wgpt_lite.data.corpora import SEED, SILENT_PEAK, CorpusSpec
from wgpt_lite.infra.errors import AudioError, DataError

FESTIVAL_VOICES_DIR = Path("/usr/share/festival/voices")
ESPEAK_ACCENTS = (
    "en",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-rp",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
ESPEAK_VARIANTS = (
    "",
    "+m1",
    "+m2",
    "+m3",
    "+m4",
    "+m5",
    "+m6",
    "+m7",
    "+f1",
    "+f2",
    "+f3",
    "+f4",
    "+f5",
    "+klatt",
    "+klatt2",
    "+klatt3",
    "+croak",
)
FLITE_VOICES = ("slt", "rms", "awb", "kal16")  # kal (8 kHz) and awb_time (clock phrases only) left out
FESTIVAL_VOICES = {"kal_diphone": "english/kal_diphone", "cmu_us_slt_arctic_hts": "us/cmu_us_slt_arctic_hts"}
# measured on the Bible text: characters spoken per second at each engine's default rate
CHARS_PER_SECOND = {"espeak-ng": 18.7, "flite": 18.5, "festival": 16.3}
TEXT_CHARS = (170, 270)  # a reading's length: ~9-16 s for every engine, inside the 8-20 s clip range
HELD_OUT_VOICES = {"espeak-ng": 6, "flite": 1, "festival": 0}  # per eval split; festival has 2 voices: train
BIBLE_VERSE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.+)$")
ASTERISK_DIRS = (Path("/usr/share/asterisk/sounds/en_US_f_Allison"), Path("/usr/share/asterisk/sounds/en"))
ASTERISK_GAP = 0.3  # seconds of silence between two prompts joined into one clip


@dataclass(frozen=True)
class Voice:
    engine: str  # "espeak-ng" | "flite" | "festival"
    name: str

    @property
    def slug(self) -> str:
        return f"{self.engine}-{self.name}".replace("+", "_")


def tts_voices() -> list[Voice]:
    """Every voice the speech builder uses; a missing engine names its Debian package."""
    need_tool("espeak-ng", "espeak-ng")
    need_tool("flite", "flite")
    need_tool("text2wave", "festival")
    for voice, folder in FESTIVAL_VOICES.items():
        if not (FESTIVAL_VOICES_DIR / folder).is_dir():
            package = "festvox-kallpc16k" if "kal" in voice else "festvox-us-slt-hts"
            raise DataError(f"festival voice {voice} is missing; sudo apt-get install {package}")
    listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split(":")[-1].split()
    return (
        [Voice("espeak-ng", a + v) for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
        + [Voice("flite", v) for v in FLITE_VOICES if v in listed]
        + [Voice("festival", v) for v in FESTIVAL_VOICES]
    )


def bible_chunks() -> list[dict]:
    """The King James Bible as ~13 s readings: consecutive verses of one chapter.

    >>> bible_chunks()[0]["ref"]
    'Ge1:1-2'
    """
    need_tool("bible", "bible-kjv")
    out = subprocess.run(["bible", "-f", "Ge1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    chunks, current = [], None
    for line in out.splitlines():
        match = BIBLE_VERSE.match(line.strip())
        if not match:
            continue
        book, chapter, verse, text = match.groups()
        if (
            current
            and (current["book"], current["chapter"]) == (book, chapter)
            and len(current["text"]) < TEXT_CHARS[0]
            and len(current["text"]) + 1 + len(text) <= TEXT_CHARS[1]
        ):
            current["text"] += " " + text
            current["last"] = verse
            continue
        current = {"book": book, "chapter": chapter, "first": verse, "last": verse, "text": text}
        chunks.append(current)
    for chunk in chunks:
        span = chunk["first"] if chunk["first"] == chunk["last"] else f"{chunk['first']}-{chunk['last']}"
        chunk["ref"] = f"{chunk['book']}{chunk['chapter']}:{span}"
    return [c for c in chunks if TEXT_CHARS[0] <= len(c["text"]) <= TEXT_CHARS[1]]


def _speech_plan(voices: list[Voice], chunks: list[dict], budgets: dict) -> list[dict]:
    """Which voice reads which text in which split: voices and books never cross splits."""
    rng = random.Random(SEED)
    by_engine = {}
    for voice in sorted(voices, key=lambda v: v.slug):
        by_engine.setdefault(voice.engine, []).append(voice)
    split_voices = {split: {} for split in budgets}
    for engine, engine_voices in by_engine.items():
        rng.shuffle(engine_voices)
        n = HELD_OUT_VOICES[engine]
        split_voices["test"][engine] = engine_voices[:n]
        split_voices["validation"][engine] = engine_voices[n : 2 * n]
        split_voices["train"][engine] = engine_voices[2 * n :]
    books = sorted({c["book"] for c in chunks}, key=[c["book"] for c in chunks].index)
    rng.shuffle(books)
    chars = {book: sum(len(c["text"]) for c in chunks if c["book"] == book) for book in books}
    split_books, cursor = {}, 0
    for split in ("test", "validation"):  # whole books, enough text for the split (x2: margin)
        taken = 0
        split_books[split] = set()
        while taken < budgets[split] * 2 * max(CHARS_PER_SECOND.values()) and cursor < len(books) - 1:
            split_books[split].add(books[cursor])
            taken += chars[books[cursor]]
            cursor += 1
    split_books["train"] = set(books[cursor:])
    plan = []
    for split in ("train", "validation", "test"):
        engines = [e for e in sorted(split_voices[split]) if split_voices[split][e]]
        texts = [c for c in chunks if c["book"] in split_books[split]]
        rng.shuffle(texts)
        seconds, turn = 0.0, 0
        for text in texts:
            if seconds >= budgets[split]:
                break
            engine = engines[turn % len(engines)]
            voice = split_voices[split][engine][(turn // len(engines)) % len(split_voices[split][engine])]
            plan.append(
                {
                    "split": split,
                    "id": f"{split}-{len(plan):05d}-{voice.slug}",
                    "voice": voice,
                    "ref": text["ref"],
                    "text": text["text"],
                }
            )
            seconds += len(text["text"]) / CHARS_PER_SECOND[engine]
            turn += 1
    return plan


def synthesize(voice: Voice, text: str, work: Path):
    """Speak ``text`` with ``voice``: a float tensor at 24 kHz (AudioError when the engine fails)."""
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        text_file, wav_file = Path(tmp) / "text.txt", Path(tmp) / "speech.wav"
        text_file.write_text(text + "\n")
        if voice.engine == "espeak-ng":
            run_tool(["espeak-ng", "-v", voice.name, "-w", str(wav_file), "-f", str(text_file)])
        elif voice.engine == "flite":
            run_tool(["flite", "-voice", voice.name, "-f", str(text_file), "-o", str(wav_file)])
        else:
            run_tool(["text2wave", "-eval", f"(voice_{voice.name})", str(text_file), "-o", str(wav_file)])
        return load_audio(wav_file)


def _speak_clip(task: dict) -> dict:
    """Worker: synthesise one planned clip, check it and write it; a row or a skip reason."""
    root, voice = Path(task["root"]), task["voice"]
    try:
        wav = synthesize(voice, task["text"], root / "_work")
    except AudioError as err:
        return {"skip": {"item": task["id"], "reason": str(err)}}
    problem = clip_problem(wav, *task["clip_seconds"])
    if problem:
        return {"skip": {"item": task["id"], "reason": problem}}
    return {
        "row": save_clip(
            root,
            task["split"],
            task["id"],
            normalise_peak(wav),
            source=voice.engine,
            speaker=voice.name,
            piece=f"KJV {task['ref']}",
            text=task["text"],
        )
    }


def build_mini_speech(root: Path, spec: CorpusSpec, budgets: dict, jobs: int, **_) -> tuple[list, list, dict]:
    plan = _speech_plan(tts_voices(), bible_chunks(), budgets)
    tasks = [{**item, "root": str(root), "clip_seconds": spec.clip_seconds} for item in plan]
    results = parallel_map(_speak_clip, tasks, jobs, "mini-speech")
    rows = [r["row"] for r in results if "row" in r]
    skipped = [r["skip"] for r in results if "skip" in r]
    real_rows, real_skipped, transcripts = _asterisk_clips(root, spec, budgets["test"])
    voices = {split: sorted({r["speaker"] for r in rows if r["split"] == split}) for split in budgets}
    books = {
        split: sorted({r["piece"].split()[1].rstrip("0123456789:-") for r in rows if r["split"] == split})
        for split in budgets
    }
    about = {"voices": voices, "books": books, "real_transcripts": transcripts}
    return rows + real_rows, skipped + real_skipped, about


def asterisk_dir() -> Path:
    """The folder of the recorded English Asterisk prompts (G.722, 16 kHz)."""
    for folder in ASTERISK_DIRS:
        if folder.is_dir() and any(folder.glob("*.g722")):
            return folder
    raise DataError("the Asterisk English prompts are missing; sudo apt-get install asterisk-core-sounds-en-g722")


def decode_g722(path: str | os.PathLike):
    """A G.722 file (64 kbit/s, 16 kHz) as a float tensor at 24 kHz; sox cannot read G.722."""
    try:
        import G722
    except ImportError as err:
        raise DataError("decoding G.722 needs the G722 package: pip install G722") from err
    data = Path(path).read_bytes()
    if not data:
        raise AudioError(f"{path}: the file is empty (0 bytes)")
    pcm = np.asarray(G722.G722(16000, 64000).decode(data), dtype=np.float32) / 32768.0
    return torch.from_numpy(soxr.resample(pcm, 16000, SAMPLE_RATE, quality="HQ").astype(np.float32))


def asterisk_transcripts(folder: Path) -> dict[str, str]:
    """Prompt name -> transcript from a ``core-sounds-en.txt`` (``name: text`` lines), when one is found.

    Debian's package does not ship it; point ``WGPT_ASTERISK_TRANSCRIPTS`` at the file from
    the upstream asterisk-core-sounds tarball to use it.
    """
    candidates = [
        os.environ.get("WGPT_ASTERISK_TRANSCRIPTS", ""),
        folder / "core-sounds-en.txt",
        folder.parent / "core-sounds-en.txt",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            lines = Path(candidate).read_text(errors="replace").splitlines()
            pairs = (line.split(":", 1) for line in lines if ":" in line and not line.startswith(";"))
            return {name.strip().removesuffix(".wav"): text.strip() for name, text in pairs}
    return {}


def _asterisk_clips(root: Path, spec: CorpusSpec, budget: float) -> tuple[list, list, str]:
    """The ``real`` split: recorded prompts joined into 8-20 s clips (evaluation only)."""
    folder = asterisk_dir()
    transcripts = asterisk_transcripts(folder)
    names = sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.g722"))
    names = [n for n in names if not n.startswith("silence/")]  # recorded silence, nothing to learn
    random.Random(SEED).shuffle(names)
    pieces, kept, skipped = [], [], []
    for name in names:
        if sum(p.shape[-1] for p in pieces) / SAMPLE_RATE >= max(budget, spec.clip_seconds[1]) * 1.3:
            break
        try:
            wav = decode_g722(folder / f"{name}.g722")
        except AudioError as err:
            skipped.append({"item": f"asterisk/{name}", "reason": str(err)})
            continue
        if float(wav.abs().max()) < SILENT_PEAK:
            skipped.append({"item": f"asterisk/{name}", "reason": "silent (peak below -60 dBFS)"})
            continue
        pieces.append(wav)
        kept.append(name)
    rows = []
    for clip, members in pack_clips(pieces, *spec.clip_seconds, gap=ASTERISK_GAP):
        text = " ".join(transcripts.get(kept[i], re.sub(r"[-_/]", " ", kept[i])) for i in members)
        rows.append(
            save_clip(
                root,
                "real",
                f"real-{len(rows):05d}-asterisk",
                normalise_peak(clip),
                source="asterisk",
                speaker="Allison Smith",
                piece=" ".join(kept[i] for i in members),
                text=text,
            )
        )
    return rows, skipped, "core-sounds-en.txt" if transcripts else "prompt file names (no core-sounds-en.txt found)"
