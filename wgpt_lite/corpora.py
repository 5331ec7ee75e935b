"""Corpora: build, read and describe the audio the models learn from.

A corpus is a folder ``home_dir()/corpora/<name>/`` holding 24 kHz mono 16-bit WAV
clips under ``audio/<split>/`` and two files:

- ``manifest.jsonl``: one JSON object per clip with the keys of ``MANIFEST_KEYS``
  (id, split, path, seconds, source, speaker, piece, text, midi);
- ``summary.json``: how it was built (minutes, seed, seconds per split, build time)
  and ``skipped``: every input left out, with the reason.

Offline corpora are synthesised from Debian/PyPI packages, nothing downloaded:

- ``mini-speech``: espeak-ng, flite and festival voices reading the King James Bible
  (``bible-kjv``), plus a ``real`` split of recorded Asterisk prompts (Allison Smith,
  CC BY-SA 3.0). Validation and test hold out whole voices *and* whole books.
- ``mini-music``: music21's corpus (piano and chamber works first, then Bach
  chorales) -> MIDI -> FluidSynth with the FluidR3 GM piano. Splits hold out whole pieces.

Real corpora, cut into clips the same way: ``librispeech`` (Hugging Face ``datasets``)
and ``maestro`` (a local MAESTRO v3 folder). ``sample-speech`` and ``sample-music``
are the few seconds committed in ``data/sample/``.

    >>> import wgpt_lite as wl
    >>> path = wl.build_corpus("mini-speech", minutes=1)   # ~15 s; a no-op when already built
    >>> row = wl.read_manifest("mini-speech", "train")[0]
    >>> sorted(row) == sorted(MANIFEST_KEYS), 8 <= row["seconds"] <= 20
    (True, True)

Every build writes into ``<name>.tmp-<pid>`` and renames it when complete, so a crash
never leaves a corpus that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from wgpt_lite.audio import SAMPLE_RATE, load_audio, save_audio
from wgpt_lite.errors import AudioError, DataError
from wgpt_lite.settings import REPO_ROOT, home_dir, offline

SEED = 1234  # one seed for every split decision: same corpus on every machine
EVAL_FRACTION = 1 / 8  # validation and test each get minutes / 8 (8 min for the 64-min default)
PEAK = 0.89  # clips are scaled to -1 dBFS peak so that voices and pianos sit at one level
SILENT_PEAK = 1e-3  # a clip whose loudest sample is below -60 dBFS is silence, not data
MANIFEST_KEYS = ("id", "split", "path", "seconds", "source", "speaker", "piece", "text", "midi")


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    kind: str  # "speech" | "music"
    splits: tuple[str, ...]
    clip_seconds: tuple[float, float]  # shortest and longest clip the builder keeps
    minutes: float  # default training minutes (validation and test: minutes * EVAL_FRACTION)
    melvq_k: int = 1024  # codebook size when this corpus fits the melvq stand-in
    real: bool = False  # fetched from elsewhere (hub, local folder), not synthesised


SPECS = {
    spec.name: spec
    for spec in (
        CorpusSpec("mini-speech", "speech", ("train", "validation", "test", "real"), (8.0, 20.0), 64),
        CorpusSpec("mini-music", "music", ("train", "validation", "test"), (10.0, 30.0), 64),
        CorpusSpec("librispeech", "speech", ("train", "validation", "test"), (8.0, 20.0), 600, real=True),
        CorpusSpec("maestro", "music", ("train", "validation", "test"), (10.0, 30.0), 600, real=True),
        # a handful of seconds, committed; melvq's k shrinks to fit its few frames
        CorpusSpec("sample-speech", "speech", ("train", "validation"), (4.0, 10.0), 0.2, melvq_k=128),
        CorpusSpec("sample-music", "music", ("train", "validation"), (4.0, 10.0), 0.25, melvq_k=128),
    )
}
CORPORA = tuple(SPECS)
SAMPLE_DIR = REPO_ROOT / "data" / "sample"


# ---------------------------------------------------------------------------
# Reading corpora


def corpus_spec(name: str) -> CorpusSpec:
    """The spec of a known corpus; an unknown name raises ``DataError`` listing the known ones."""
    if name not in SPECS:
        raise DataError(f"unknown corpus {name!r}; known corpora: {', '.join(CORPORA)}")
    return SPECS[name]


def corpus_dir(name: str) -> Path:
    """Where corpus ``name`` lives (built or not): ``data/sample/<kind>`` or ``home_dir()/corpora/<name>``."""
    spec = corpus_spec(name)
    if name.startswith("sample-"):
        return SAMPLE_DIR / spec.kind
    return home_dir() / "corpora" / name


def is_built(name: str) -> bool:
    """True when the corpus folder is complete (its summary is the last file a build writes)."""
    return (corpus_dir(name) / "summary.json").is_file()


def read_manifest(name: str, split: str | None = None) -> list[dict]:
    """The manifest rows of a built corpus (optionally one split), in manifest order."""
    path = corpus_dir(name) / "manifest.jsonl"
    if not path.is_file():
        raise DataError(f"corpus {name!r} is not built ({path} is missing); run: python -m wgpt_lite data build {name}")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if split is None:
        return rows
    splits = corpus_spec(name).splits
    if split not in splits:
        raise DataError(f"corpus {name!r} has no split {split!r}; its splits: {', '.join(splits)}")
    return [row for row in rows if row["split"] == split]


def corpus_summary(name: str) -> dict:
    """``summary.json`` of a built corpus: minutes, seconds per split, build time, skipped inputs."""
    read_manifest(name)  # the same clear error when it is not built
    return json.loads((corpus_dir(name) / "summary.json").read_text())


def manifest_sha256(name: str) -> str:
    """Hash of the manifest: feature caches key on it, so a rebuilt corpus never reuses them."""
    return hashlib.sha256((corpus_dir(name) / "manifest.jsonl").read_bytes()).hexdigest()


# ---------------------------------------------------------------------------
# Building: one entry point, atomic folders, clips written by worker processes


def build_corpus(name: str, minutes: float | None = None, jobs: int | None = None, force: bool = False,
                 source: str | None = None, config: str | None = None) -> Path:
    """Build corpus ``name`` under ``home_dir()/corpora/`` and return its folder.

    ``minutes``: training minutes (default: the spec's, 64 for the mini corpora);
    validation and test get ``minutes / 8`` each. ``jobs``: worker processes (default
    ``os.cpu_count()``). A complete corpus is kept as it is unless ``force``.
    ``source``/``config``: for ``librispeech`` a Hugging Face dataset name or a local
    ``save_to_disk`` folder, and its config; for ``maestro`` the MAESTRO v3 folder
    (default ``$WGPT_MAESTRO_DIR``).
    """
    spec = corpus_spec(name)
    if name.startswith("sample-"):
        raise DataError(f"{name} is committed in {SAMPLE_DIR}; regenerate it with: python -m wgpt_lite data sample")
    final = corpus_dir(name)
    if is_built(name) and not force:
        return final
    minutes = float(minutes if minutes is not None else spec.minutes)
    if minutes <= 0:
        raise DataError(f"--minutes must be positive, got {minutes}")
    budgets = {"train": minutes * 60, "validation": minutes * 60 * EVAL_FRACTION, "test": minutes * 60 * EVAL_FRACTION}
    jobs = max(1, jobs or os.cpu_count() or 1)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "audio").mkdir(parents=True)
    started = time.perf_counter()
    try:
        builder = {"mini-speech": _build_mini_speech, "mini-music": _build_mini_music,
                   "librispeech": _build_librispeech, "maestro": _build_maestro}[name]
        rows, skipped, about = builder(tmp, spec, budgets, jobs, source=source, config=config)
        shutil.rmtree(tmp / "_work", ignore_errors=True)
        _write_manifest(tmp, spec, rows, skipped, minutes, time.perf_counter() - started, about)
        publish(tmp, final, "summary.json", replace=force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report_skipped(name, skipped)
    return final


def publish(tmp: Path, final: Path, marker: str, replace: bool = False) -> None:
    """Rename a finished temporary folder into place: the one step that makes it trusted.

    A leftover ``final`` without its ``marker`` file (an old crash) is replaced; a complete
    one that another process published meanwhile is kept unless ``replace``.
    """
    if final.exists() and (replace or not (final / marker).is_file()):
        shutil.rmtree(final)
    try:
        os.replace(tmp, final)
    except OSError:
        if not (final / marker).is_file():
            raise  # not the benign race: a real filesystem problem


def _write_manifest(root: Path, spec: CorpusSpec, rows: list[dict], skipped: list[dict], minutes: float,
                    build_seconds: float, about: dict) -> None:
    for split in spec.splits:
        if not any(row["split"] == split for row in rows):
            raise DataError(f"{spec.name}: the build produced no clip for split {split!r} "
                            f"({len(skipped)} inputs skipped); try a larger --minutes")
    with open(root / "manifest.jsonl", "w") as f:
        for row in rows:
            f.write(json.dumps({key: row.get(key, "") for key in MANIFEST_KEYS}) + "\n")
    per_split = {split: {"clips": sum(r["split"] == split for r in rows),
                         "seconds": round(sum(r["seconds"] for r in rows if r["split"] == split), 2)}
                 for split in spec.splits}
    summary = {"name": spec.name, "kind": spec.kind, "minutes": minutes, "seed": SEED, "splits": per_split,
               "build_seconds": round(build_seconds, 1), "skipped": skipped, **about}
    (root / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")  # last: marks it complete


def report_skipped(where: str, skipped: list[dict], what: str = "inputs") -> None:
    """List every skipped item with its reason on stderr, after a build or an extraction."""
    if skipped:
        print(f"{where}: skipped {len(skipped)} {what}:", file=sys.stderr)
        for item in skipped:
            print(f"  {item['item']}: {item['reason']}", file=sys.stderr)


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # the pool is the parallelism; nested threads would fight over 2 cores


def _pool(jobs: int):
    if jobs == 1:  # in this process: no start-up cost (tests, tiny builds)
        return ThreadPoolExecutor(1)
    # spawn, not fork: a forked child of a process that already ran torch's OpenMP can hang
    return ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_worker_init)


def _parallel_map(fn, tasks: list, jobs: int, desc: str) -> list:
    """``[fn(t) for t in tasks]`` over ``jobs`` processes, in order, with a progress bar."""
    from tqdm.auto import tqdm

    if jobs == 1 or len(tasks) <= 1:
        return [fn(task) for task in tqdm(tasks, desc=desc, unit="clip")]
    with _pool(jobs) as pool:
        return list(tqdm(pool.map(fn, tasks, chunksize=max(1, len(tasks) // (jobs * 8))),
                         total=len(tasks), desc=desc, unit="clip"))


def clip_problem(wav, lo: float, hi: float) -> str | None:
    """Why a clip is unusable (silent, too short, too long), or None when it is fine."""
    seconds = wav.shape[-1] / SAMPLE_RATE
    if wav.shape[-1] == 0 or float(wav.abs().max()) < SILENT_PEAK:
        return "silent (peak below -60 dBFS)"
    if seconds < lo:
        return f"{seconds:.1f} s is shorter than {lo:g} s"
    if seconds > hi:
        return f"{seconds:.1f} s is longer than {hi:g} s"
    return None


def _normalise(wav):
    return wav * (PEAK / float(wav.abs().max().clamp(min=1e-9)))


def _save_clip(root: Path, split: str, clip_id: str, wav, **meta) -> dict:
    """Write one clip under ``audio/<split>/`` and return its manifest row."""
    path = Path("audio") / split / f"{clip_id}.wav"
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    save_audio(root / path, wav)
    return {"id": clip_id, "split": split, "path": str(path), "seconds": round(wav.shape[-1] / SAMPLE_RATE, 3), **meta}


def pack_clips(pieces: list, lo: float, hi: float, gap: float = 0.0) -> list[tuple[object, list[int]]]:
    """Join consecutive pieces (1-D tensors at 24 kHz) into clips of lo..hi seconds.

    A piece longer than ``hi`` is cut into equal parts; pieces that cannot reach ``lo``
    are dropped. Returns ``(clip, indices of the pieces in it)``.

    >>> import torch
    >>> [(c.shape[0] / 24000, i) for c, i in pack_clips([torch.ones(24000 * 5)] * 3, 8, 12)]
    [(10.0, [0, 1])]
    """
    import torch

    gap_wav = torch.zeros(int(gap * SAMPLE_RATE))
    clips, buffer, members = [], [], []

    def buffer_seconds():
        return (sum(p.shape[-1] for p in buffer) + gap_wav.shape[0] * max(0, len(buffer) - 1)) / SAMPLE_RATE

    def flush():
        if buffer and buffer_seconds() >= lo:
            joined = [part for p in buffer for part in (gap_wav, p)][1:]
            clips.append((torch.cat(joined), list(members)))
        buffer.clear()
        members.clear()

    for index, piece in enumerate(pieces):
        seconds = piece.shape[-1] / SAMPLE_RATE
        if seconds > hi:
            flush()
            n_parts = int(np.ceil(seconds / hi))
            for part in torch.tensor_split(piece, n_parts):
                if part.shape[-1] / SAMPLE_RATE >= lo:
                    clips.append((part, [index]))
            continue
        if buffer and buffer_seconds() + gap + seconds > hi:
            flush()
        buffer.append(piece)
        members.append(index)
    flush()
    return clips


def _need_tool(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise DataError(f"{tool} is not installed; install the Debian package: sudo apt-get install {package}")
    return path


def _run(cmd: list[str]) -> None:
    """Run a synthesis tool; its failure is an AudioError (the clip is skipped, the build goes on)."""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise AudioError(f"{Path(cmd[0]).name} did not run: {err}") from err
    if result.returncode != 0:
        raise AudioError(f"{Path(cmd[0]).name} failed ({result.returncode}): {result.stderr.strip()[-300:]}")


# ---------------------------------------------------------------------------
# mini-speech: TTS voices reading the King James Bible, plus real Asterisk prompts

FESTIVAL_VOICES_DIR = Path("/usr/share/festival/voices")
ESPEAK_ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd",
                  "en-029", "en-us-nyc")
ESPEAK_VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5",
                   "+klatt", "+klatt2", "+klatt3", "+croak")
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
    _need_tool("espeak-ng", "espeak-ng")
    _need_tool("flite", "flite")
    _need_tool("text2wave", "festival")
    for voice, folder in FESTIVAL_VOICES.items():
        if not (FESTIVAL_VOICES_DIR / folder).is_dir():
            package = "festvox-kallpc16k" if "kal" in voice else "festvox-us-slt-hts"
            raise DataError(f"festival voice {voice} is missing; sudo apt-get install {package}")
    listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split(":")[-1].split()
    return ([Voice("espeak-ng", a + v) for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
            + [Voice("flite", v) for v in FLITE_VOICES if v in listed]
            + [Voice("festival", v) for v in FESTIVAL_VOICES])


def bible_chunks() -> list[dict]:
    """The King James Bible as ~13 s readings: consecutive verses of one chapter.

    >>> bible_chunks()[0]["ref"]
    'Ge1:1-2'
    """
    _need_tool("bible", "bible-kjv")
    out = subprocess.run(["bible", "-f", "Ge1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    chunks, current = [], None
    for line in out.splitlines():
        match = BIBLE_VERSE.match(line.strip())
        if not match:
            continue
        book, chapter, verse, text = match.groups()
        if (current and (current["book"], current["chapter"]) == (book, chapter)
                and len(current["text"]) < TEXT_CHARS[0] and len(current["text"]) + 1 + len(text) <= TEXT_CHARS[1]):
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
            plan.append({"split": split, "id": f"{split}-{len(plan):05d}-{voice.slug}", "voice": voice,
                         "ref": text["ref"], "text": text["text"]})
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
            _run(["espeak-ng", "-v", voice.name, "-w", str(wav_file), "-f", str(text_file)])
        elif voice.engine == "flite":
            _run(["flite", "-voice", voice.name, "-f", str(text_file), "-o", str(wav_file)])
        else:
            _run(["text2wave", "-eval", f"(voice_{voice.name})", str(text_file), "-o", str(wav_file)])
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
    return {"row": _save_clip(root, task["split"], task["id"], _normalise(wav), source=voice.engine,
                              speaker=voice.name, piece=f"KJV {task['ref']}", text=task["text"])}


def _build_mini_speech(root: Path, spec: CorpusSpec, budgets: dict, jobs: int, **_) -> tuple[list, list, dict]:
    plan = _speech_plan(tts_voices(), bible_chunks(), budgets)
    tasks = [{**item, "root": str(root), "clip_seconds": spec.clip_seconds} for item in plan]
    results = _parallel_map(_speak_clip, tasks, jobs, "mini-speech")
    rows = [r["row"] for r in results if "row" in r]
    skipped = [r["skip"] for r in results if "skip" in r]
    real_rows, real_skipped, transcripts = _asterisk_clips(root, spec, budgets["test"])
    voices = {split: sorted({r["speaker"] for r in rows if r["split"] == split}) for split in budgets}
    books = {split: sorted({r["piece"].split()[1].rstrip("0123456789:-") for r in rows if r["split"] == split})
             for split in budgets}
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
    import soxr
    import torch

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
    candidates = [os.environ.get("WGPT_ASTERISK_TRANSCRIPTS", ""), folder / "core-sounds-en.txt",
                  folder.parent / "core-sounds-en.txt"]
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
        rows.append(_save_clip(root, "real", f"real-{len(rows):05d}-asterisk", _normalise(clip), source="asterisk",
                               speaker="Allison Smith", piece=" ".join(kept[i] for i in members), text=text))
    return rows, skipped, "core-sounds-en.txt" if transcripts else "prompt file names (no core-sounds-en.txt found)"


# ---------------------------------------------------------------------------
# mini-music: music21 scores -> MIDI (piano) -> FluidSynth

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
# composers whose works come first (keyboard and chamber music, all played on piano), then chorales
PIANO_COMPOSERS = ("joplin", "mozart", "haydn", "beethoven", "schumann_clara", "schumann_robert", "chopin",
                   "cpebach", "schoenberg", "beach", "schubert", "handel", "corelli", "weber", "verdi",
                   "johnson_j_r", "liliuokalani")
CHORALE_SHARE = 0.25  # of every split's minutes: Bach chorales; the rest piano and chamber works
MAX_PIECE_SECONDS = 120  # at most 2 minutes of a piece, so that many pieces share the corpus
SCORE_FORMATS = (".mxl", ".musicxml", ".xml", ".krn")  # preferred first when a piece has several files
MIDI_TICKS_PER_SECOND = 960  # at the fixed 120 bpm tempo we write: 480 ticks a quarter note
VELOCITY = 80  # the scores carry few dynamics; one mezzo-forte touch for every note


def music21_pieces() -> dict[str, list[str]]:
    """music21 corpus paths by group: ``piano`` (in PIANO_COMPOSERS order), then ``chorales``."""
    try:
        from music21 import corpus
    except ImportError as err:
        raise DataError("mini-music needs music21: pip install music21") from err
    paths = sorted(str(p) for p in corpus.getCorePaths())
    groups = {"piano": [], "chorales": []}
    best = {}
    for path in paths:  # one file per piece: the first format in SCORE_FORMATS
        stem, ext = os.path.splitext(path)
        if ext in SCORE_FORMATS and (stem not in best or SCORE_FORMATS.index(ext) < SCORE_FORMATS.index(best[stem][1])):
            best[stem] = (path, ext)
    for composer in PIANO_COMPOSERS:
        groups["piano"] += [p for stem, (p, _) in sorted(best.items()) if f"/corpus/{composer}/" in p]
    groups["chorales"] = [p for stem, (p, _) in sorted(best.items()) if "/corpus/bach/bwv" in p]
    return groups


def piece_id(path: str) -> str:
    """``.../corpus/beethoven/opus18no1/movement1.mxl`` -> ``beethoven-opus18no1-movement1``."""
    return os.path.splitext(path.split("/corpus/", 1)[-1])[0].replace("/", "-").replace(".", "_")


def score_notes(path: str, max_seconds: float = MAX_PIECE_SECONDS) -> list[tuple[float, float, int]]:
    """(start s, end s, MIDI pitch) of every note of a score up to ``max_seconds``; ties merged."""
    from music21 import chord, converter, note

    flat = converter.parse(path).flatten()
    notes, tied = [], {}
    for item in flat.secondsMap:
        element, start, length = item["element"], item["offsetSeconds"], item["durationSeconds"]
        if not isinstance(element, (note.Note, chord.Chord)) or not length > 0 or start >= max_seconds:
            continue
        tie = element.tie.type if element.tie is not None else None
        for pitch in element.pitches:
            midi = int(pitch.midi)
            if tie in ("stop", "continue") and midi in tied:  # a tie extends the sounding note
                index = tied[midi]
                notes[index] = (notes[index][0], min(start + length, max_seconds), midi)
            else:
                notes.append((start, min(start + length, max_seconds), midi))
            if tie in ("start", "continue"):
                tied[midi] = len(notes) - 1 if tie == "start" else tied.get(midi, len(notes) - 1)
            else:
                tied.pop(midi, None)
    return sorted(notes)


def write_midi(notes: list[tuple[float, float, int]], path: Path) -> None:
    """A one-track MIDI file (piano, 120 bpm) from (start s, end s, pitch) triples."""

    def varlen(value: int) -> bytes:
        out = [value & 0x7F]
        while value > 0x7F:
            value >>= 7
            out.insert(0, (value & 0x7F) | 0x80)
        return bytes(out)

    events = []
    for start, end, pitch in notes:
        events.append((round(start * MIDI_TICKS_PER_SECOND), 1, bytes([0x90, pitch, VELOCITY])))
        events.append((round(end * MIDI_TICKS_PER_SECOND), 0, bytes([0x80, pitch, 0])))  # offs before ons
    track, now = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20\x00\xc0\x00"), 0  # tempo 500000 us/quarter; piano
    for tick, _, message in sorted(events):
        track += varlen(tick - now) + message
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + (480).to_bytes(2, "big")
    path.write_bytes(header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track))


def render_midi(midi_path: Path, wav_path: Path):
    """FluidSynth's fast render of a MIDI file at 24 kHz (no reverb or chorus): a float tensor."""
    _need_tool("fluidsynth", "fluidsynth")
    if not SOUNDFONT.is_file():
        raise DataError(f"{SOUNDFONT} is missing; sudo apt-get install fluid-soundfont-gm")
    _run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(SAMPLE_RATE),
          "-F", str(wav_path), str(SOUNDFONT), str(midi_path)])
    wav = load_audio(wav_path)
    loud = (wav.abs() > SILENT_PEAK).nonzero()
    return wav[: int(loud[-1]) + SAMPLE_RATE // 2] if len(loud) else wav  # drop the silent release tail


def _render_piece(task: dict) -> dict:
    """Worker: one score -> MIDI -> audio -> 10-30 s segments in ``_work/pieces``."""
    root, pid = Path(task["root"]), task["piece"]
    work = root / "_work" / "pieces"
    (root / "midi").mkdir(exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    try:
        notes = score_notes(task["path"])
        if not notes:
            raise AudioError("the score holds no notes")
        midi = root / "midi" / f"{pid}.mid"
        write_midi(notes, midi)
        wav = render_midi(midi, work / f"{pid}.wav")
    except Exception as err:  # music21 raises many kinds on odd scores: one bad piece never stops the build
        return {"piece": pid, "skip": {"item": pid, "reason": f"{type(err).__name__}: {err}"[:300]}}
    if float(wav.abs().max()) < SILENT_PEAK:
        return {"piece": pid, "skip": {"item": pid, "reason": "silent (peak below -60 dBFS)"}}
    wav = _normalise(wav)
    segments = []
    for index, (clip, _) in enumerate(pack_clips([wav], *task["clip_seconds"])):
        save_audio(work / f"{pid}-{index:02d}.wav", clip)
        segments.append(round(clip.shape[-1] / SAMPLE_RATE, 3))
    if not segments:
        return {"piece": pid, "skip": {"item": pid, "reason": f"{wav.shape[-1] / SAMPLE_RATE:.1f} s is too short"}}
    return {"piece": pid, "group": task["group"], "path": task["path"], "segments": segments}


def _render_until(pool, jobs: int, tasks: list[dict], seconds_needed: float, min_pieces: int):
    """Render pieces in order, a few ahead, until their segments add up to ``seconds_needed``.

    Which pieces are used depends only on the ordered results, never on which worker is
    fastest, so the corpus is the same for any ``--jobs``.
    """
    from tqdm.auto import tqdm

    pending, kept, skipped, total = [], [], [], 0.0
    queue = list(tasks)
    with tqdm(total=round(seconds_needed), desc=f"mini-music ({tasks[0]['group'] if tasks else ''})", unit="s") as bar:
        while total < seconds_needed or len(kept) < min_pieces:
            while queue and len(pending) < 2 * jobs:  # a few pieces ahead keep every worker busy
                pending.append(pool.submit(_render_piece, queue.pop(0)))
            if not pending:
                break
            result = pending.pop(0).result()
            if "skip" in result:
                skipped.append(result["skip"])
                continue
            kept.append(result)
            total += sum(result["segments"])
            bar.update(round(sum(result["segments"])))
    for future in pending:  # rendered ahead and not needed; their files are removed with _work
        future.cancel()
    return kept, skipped


def _assign_pieces(pieces: list[dict], budgets: dict, share: float) -> dict[str, str]:
    """piece -> split: seeded shuffle, then test and validation take pieces until full."""
    order = sorted(pieces, key=lambda p: p["piece"])
    random.Random(SEED).shuffle(order)
    splits, cursor = {}, 0
    for reserve, split in ((2, "test"), (1, "validation")):  # leave a piece for each later split
        seconds = 0.0
        while cursor < len(order) - reserve and (seconds == 0 or seconds < budgets[split] * share):
            splits[order[cursor]["piece"]] = split
            seconds += sum(order[cursor]["segments"])
            cursor += 1
    for piece in order[cursor:]:
        splits[piece["piece"]] = "train"
    return splits


def _build_mini_music(root: Path, spec: CorpusSpec, budgets: dict, jobs: int, **_) -> tuple[list, list, dict]:
    groups = music21_pieces()
    total = sum(budgets.values())
    rows, skipped, about = [], [], {"pieces": {}}
    with _pool(jobs) as pool:
        for group, share in (("piano", 1 - CHORALE_SHARE), ("chorales", CHORALE_SHARE)):
            tasks = [{"root": str(root), "path": p, "piece": piece_id(p), "group": group,
                      "clip_seconds": spec.clip_seconds} for p in groups[group]]
            kept, group_skipped = _render_until(pool, jobs, tasks, total * share * 1.05, min_pieces=3)
            skipped += group_skipped
            splits = _assign_pieces(kept, budgets, share)
            for piece in kept:
                split = splits[piece["piece"]]
                about["pieces"].setdefault(split, []).append(piece["piece"])
                for index, seconds in enumerate(piece["segments"]):
                    clip_id = f"{piece['piece']}-{index:02d}"
                    path = Path("audio") / split / f"{clip_id}.wav"
                    (root / path).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(root / "_work" / "pieces" / f"{clip_id}.wav", root / path)
                    rows.append({"id": clip_id, "split": split, "path": str(path), "seconds": seconds,
                                 "source": "music21+fluidsynth", "speaker": "FluidR3 GM piano",
                                 "piece": piece["path"].split("/corpus/", 1)[-1],
                                 "midi": f"midi/{piece['piece']}.mid"})
    used = {Path(r["midi"]).stem for r in rows}
    for midi in (root / "midi").glob("*.mid"):  # pieces rendered ahead but not used
        if midi.stem not in used:
            midi.unlink()
    rows.sort(key=lambda r: (spec.splits.index(r["split"]), r["id"]))
    return rows, skipped, about


# ---------------------------------------------------------------------------
# Real corpora: LibriSpeech (Hugging Face datasets) and MAESTRO v3 (local folder)

LIBRISPEECH_DATASET = "openslr/librispeech_asr"
LIBRISPEECH_CONFIG = "clean"
LIBRISPEECH_SPLITS = {"train": "train.100", "validation": "validation", "test": "test"}
MAESTRO_CSV = "maestro-v3.0.0.csv"


def _load_hf_split(source: str, config: str, split: str):
    """One split of a hub dataset (streamed) or of a local ``save_to_disk`` folder, audio undecoded."""
    import datasets

    if Path(source).exists():
        loaded = datasets.load_from_disk(source)
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise DataError(f"{source} has no split {split!r}; it has {', '.join(loaded)}")
            loaded = loaded[split]
    elif offline():
        raise DataError(f"{source}: WGPT_OFFLINE is set, so the hub cannot be reached; pass a local "
                        "save_to_disk folder as --source, or unset WGPT_OFFLINE")
    else:
        loaded = datasets.load_dataset(source, config, split=split, streaming=True)
    # datasets' own audio decoding needs torchcodec: take the encoded bytes instead
    return loaded.cast_column("audio", datasets.Audio(decode=False))


def _decode_row_audio(audio: dict, name: str):
    from wgpt_lite.audio import decode_audio_bytes

    if audio.get("bytes"):
        return decode_audio_bytes(audio["bytes"], name)
    if audio.get("path") and Path(audio["path"]).is_file():
        return load_audio(audio["path"])
    raise AudioError(f"{name}: the row has neither audio bytes nor a readable file")


def _build_librispeech(root: Path, spec: CorpusSpec, budgets: dict, jobs: int, source: str | None = None,
                       config: str | None = None) -> tuple[list, list, dict]:
    """Utterances of each chapter, in dataset order, joined or cut into 8-20 s clips."""
    source, config = source or LIBRISPEECH_DATASET, config or LIBRISPEECH_CONFIG
    rows, skipped = [], []
    for split, hf_split in LIBRISPEECH_SPLITS.items():
        seconds, group, pieces, metas = 0.0, None, [], []

        def flush():
            nonlocal seconds
            for clip, members in pack_clips(pieces, *spec.clip_seconds):
                first = metas[members[0]]
                row = _save_clip(root, split, f"{split}-{len(rows):06d}-{first['id']}", clip, source="librispeech",
                                 speaker=str(first["speaker_id"]), piece=f"chapter {first['chapter_id']}",
                                 text=" ".join(metas[i]["text"] for i in members))
                rows.append(row)
                seconds += row["seconds"]
            pieces.clear()
            metas.clear()

        for example in _load_hf_split(source, config, hf_split):
            if seconds >= budgets[split]:
                break
            if (example["speaker_id"], example["chapter_id"]) != group:
                flush()
                group = (example["speaker_id"], example["chapter_id"])
            name = f"{hf_split}/{example['id']}"
            try:
                wav = _decode_row_audio(example["audio"], name)
            except AudioError as err:
                skipped.append({"item": name, "reason": str(err)})
                continue
            if float(wav.abs().max()) < SILENT_PEAK:
                skipped.append({"item": name, "reason": "silent (peak below -60 dBFS)"})
                continue
            pieces.append(wav)
            metas.append(example)
        flush()
    return rows, skipped, {"source": source, "config": config, "hf_splits": LIBRISPEECH_SPLITS}


def _maestro_piece(task: dict) -> dict:
    """Worker: the first MAX_PIECE_SECONDS of one MAESTRO recording as 10-30 s clips."""
    import soundfile as sf
    import soxr
    import torch

    root, audio_path = Path(task["root"]), Path(task["maestro"]) / task["audio_filename"]
    try:
        info = sf.info(str(audio_path))
        data, rate = sf.read(str(audio_path), frames=int(MAX_PIECE_SECONDS * info.samplerate), dtype="float32",
                             always_2d=True)
        if data.shape[0] == 0 or not np.isfinite(data).all():
            raise AudioError("no samples, or NaN/infinite samples")
    except Exception as err:  # soundfile raises several kinds for a corrupt or missing file
        return {"skip": {"item": task["audio_filename"], "reason": f"not readable audio ({err})"[:300]}}
    wav = torch.from_numpy(soxr.resample(data.mean(axis=1), rate, SAMPLE_RATE, quality="HQ").astype(np.float32))
    if float(wav.abs().max()) < SILENT_PEAK:
        return {"skip": {"item": task["audio_filename"], "reason": "silent (peak below -60 dBFS)"}}
    slug = re.sub(r"[^A-Za-z0-9]+", "_", Path(task["audio_filename"]).stem).strip("_")
    rows = [_save_clip(root, task["split"], f"{slug}-{index:02d}", clip, source="maestro",
                       speaker=task["canonical_composer"], piece=task["canonical_title"],
                       midi=task["midi_filename"])
            for index, (clip, _) in enumerate(pack_clips([wav], *task["clip_seconds"]))]
    return {"rows": rows}


def _build_maestro(root: Path, spec: CorpusSpec, budgets: dict, jobs: int, source: str | None = None,
                   **_) -> tuple[list, list, dict]:
    """MAESTRO v3 with its official split; seeded choice of pieces, at most 2 minutes of each."""
    import csv

    folder = Path(source or os.environ.get("WGPT_MAESTRO_DIR", ""))
    if not source and not os.environ.get("WGPT_MAESTRO_DIR"):
        raise DataError("where is MAESTRO v3? pass --source DIR or set WGPT_MAESTRO_DIR to the folder "
                        f"holding {MAESTRO_CSV} (download: magenta.tensorflow.org/datasets/maestro)")
    if not (folder / MAESTRO_CSV).is_file():
        raise DataError(f"{folder / MAESTRO_CSV} is missing; point --source or WGPT_MAESTRO_DIR at the MAESTRO v3 folder")
    with open(folder / MAESTRO_CSV, newline="") as f:
        pieces = sorted(csv.DictReader(f), key=lambda r: r["audio_filename"])
    random.Random(SEED).shuffle(pieces)
    tasks = []
    for split in ("train", "validation", "test"):
        planned = 0.0
        for piece in pieces:
            if piece["split"] == split and planned < budgets[split]:
                tasks.append({**piece, "root": str(root), "maestro": str(folder), "clip_seconds": spec.clip_seconds})
                planned += min(float(piece["duration"]), MAX_PIECE_SECONDS)
    results = _parallel_map(_maestro_piece, tasks, jobs, "maestro")
    rows = [row for r in results for row in r.get("rows", [])]
    return rows, [r["skip"] for r in results if "skip" in r], {"source": str(folder)}


# ---------------------------------------------------------------------------
# The committed sample (data/sample/): a few seconds made by the builders above

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
    from music21 import corpus

    for kind in ("speech", "music"):
        shutil.rmtree(dest / kind, ignore_errors=True)
        (dest / kind / "audio").mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="wgpt-sample-"))
    try:
        speech = []
        for split, voice, ref, seconds in SAMPLE_SPEECH:
            text = " ".join(line.split(" ", 1)[1] for line in subprocess.run(
                ["bible", "-f", ref], capture_output=True, text=True, check=True).stdout.splitlines())
            wav = _normalise(synthesize(voice, text, work))[: int(seconds * SAMPLE_RATE)]
            speech.append(_save_clip(dest / "speech", split, f"{split}-{len(speech):02d}-{voice.slug}", wav,
                                     source=voice.engine, speaker=voice.name,
                                     piece=f"KJV {ref} (its first {seconds:g} s)", text=text))
        music = []
        for split, path, start, seconds in SAMPLE_MUSIC:
            pid = piece_id(str(corpus.getWork(path)))
            notes = [(s - start, e - start, p) for s, e, p in score_notes(str(corpus.getWork(path)), start + seconds + 1)
                     if s >= start]
            midi = Path("midi") / f"{pid}.mid"
            (dest / "music" / "midi").mkdir(exist_ok=True)
            write_midi([n for n in notes if n[0] < seconds], dest / "music" / midi)
            wav = _normalise(render_midi(dest / "music" / midi, work / f"{pid}.wav"))[: int(seconds * SAMPLE_RATE)]
            music.append(_save_clip(dest / "music", split, f"{split}-{len(music):02d}-{pid}", wav,
                                    source="music21+fluidsynth", speaker="FluidR3 GM piano",
                                    piece=f"{path} (its first {seconds:g} s)", midi=str(midi)))
        for kind, rows in (("speech", speech), ("music", music)):
            _write_manifest(dest / kind, SPECS[f"sample-{kind}"], rows, [], SPECS[f"sample-{kind}"].minutes, 0.0,
                            {"recipe": "python -m wgpt_lite data sample"})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


# ---------------------------------------------------------------------------
# Command line: python -m wgpt_lite data ...


def add_commands(subparsers) -> None:
    data = subparsers.add_parser("data", help="build and inspect corpora and feature caches",
                                 description="Build and inspect corpora and feature caches.")
    commands = data.add_subparsers(dest="data_command", metavar="ACTION")
    data.set_defaults(func=lambda args: data.print_help() or 2)

    build = commands.add_parser("build", help="build a corpus under $WGPT_HOME/corpora",
                                description="Build a corpus under $WGPT_HOME/corpora (atomic; a no-op when "
                                            "already built, unless --force).")
    build.add_argument("name", choices=[n for n in CORPORA if not n.startswith("sample-")], help="corpus to build")
    build.add_argument("--minutes", type=float, default=None,
                       help="training minutes (default 64 for mini corpora, 600 for real ones); validation and "
                            "test get minutes/8 each")
    build.add_argument("--jobs", type=int, default=None, help="worker processes (default: all CPU cores)")
    build.add_argument("--force", action="store_true", help="rebuild even when a complete corpus exists")
    build.add_argument("--source", default=None,
                       help=f"librispeech: hub dataset name or local save_to_disk folder (default "
                            f"{LIBRISPEECH_DATASET}); maestro: the MAESTRO v3 folder (default $WGPT_MAESTRO_DIR)")
    build.add_argument("--config", default=None, help=f"librispeech: dataset config (default {LIBRISPEECH_CONFIG})")
    build.set_defaults(func=_cmd_build)

    listing = commands.add_parser("list", help="list known corpora and which are built",
                                  description="List known corpora, where they live, and their splits when built.")
    listing.set_defaults(func=_cmd_list)

    features = commands.add_parser("features", help="extract (or reuse) the feature cache of a corpus split",
                                   description="Extract tokens + log-mel for a corpus split into the feature "
                                               "cache (a cache hit when nothing changed).")
    features.add_argument("name", choices=CORPORA, help="corpus")
    features.add_argument("--split", default="train", help="split (default train)")
    features.add_argument("--tokenizer", default="auto", choices=("auto", "encodec", "melvq"),
                          help="tokenizer (default auto: encodec when its weights load, else melvq)")
    features.set_defaults(func=_cmd_features)

    sample = commands.add_parser("sample", help="regenerate the committed sample in data/sample",
                                 description="Regenerate data/sample/{speech,music} from the TTS voices and FluidSynth.")
    sample.set_defaults(func=lambda args: print(build_sample()))


def _cmd_build(args) -> int:
    started = time.perf_counter()
    was_built = is_built(args.name)
    path = build_corpus(args.name, args.minutes, args.jobs, args.force, args.source, args.config)
    summary = corpus_summary(args.name)
    if was_built and not args.force:
        print(f"{path}: already built ({summary['minutes']:g} training minutes); --force rebuilds it")
        return 0
    splits = ", ".join(f"{s} {v['clips']} clips / {v['seconds'] / 60:.1f} min" for s, v in summary["splits"].items())
    print(f"{path}: {splits}; {len(summary['skipped'])} skipped; {time.perf_counter() - started:.0f} s")
    return 0


def _cmd_list(args) -> int:
    for name in CORPORA:
        state = "not built"
        if is_built(name):
            splits = corpus_summary(name)["splits"]
            state = ", ".join(f"{s} {v['seconds'] / 60:.1f} min" for s, v in splits.items())
        print(f"{name:14s} {corpus_dir(name)}  [{state}]")
    return 0


def _cmd_features(args) -> int:
    from wgpt_lite.feature_cache import features

    started = time.perf_counter()
    dataset = features(args.name, args.split, args.tokenizer)
    print(f"{args.name}/{args.split}: {len(dataset)} clips, {sum(dataset['seconds']) / 60:.1f} min, "
          f"{time.perf_counter() - started:.1f} s; cache {Path(dataset.cache_files[0]['filename']).parent}")
    return 0
