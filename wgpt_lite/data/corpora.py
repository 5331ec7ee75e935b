"""Corpora: which ones exist, where they live, and how to read them.

A corpus is a folder ``home_dir()/corpora/<name>/`` holding 24 kHz mono 16-bit WAV
clips under ``audio/<split>/`` and two files:

- ``manifest.jsonl``: one JSON object per clip with the keys of ``MANIFEST_KEYS``
  (id, split, path, seconds, source, speaker, piece, text, midi);
- ``clips.json``: every clip's size, mtime and sha256, recorded by the build;
- ``summary.json``: how it was built (minutes, seed, seconds per split, build time, when,
  ``content_sha256``) and ``skipped``: every input left out, with the reason. It is
  written last, so its presence means the corpus is complete.

The corpora (how each is made: ``wgpt_lite/data/builders/``):

- ``mini-speech``, ``mini-music``: offline, synthesised from Debian/PyPI packages
  (TTS voices reading the King James Bible; music21 scores played by FluidSynth).
- ``librispeech``, ``maestro``: the paper's corpora (Hugging Face hub, a local folder).
- ``sample-speech``, ``sample-music``: a few seconds committed in ``data/sample/`` (``sample_dir``:
  a wheel of the kit carries no audio, so installed from one it reads ``data/sample/`` under the
  working directory, where an assignment's student folder keeps its copy).
- a folder of your own audio, under a name you give it (``build_folder_corpus``, or
  ``python -m wgpt_lite data build folder --source DIR --name NAME``): its build records
  its spec in ``folder_spec.json``, so ``corpus_spec(NAME)`` and whatever reads a corpus
  by name (features, train, reproduce) use it like a built-in one.

    >>> import wgpt_lite as wl
    >>> row = wl.read_manifest("sample-speech", "train")[0]
    >>> sorted(row) == sorted(MANIFEST_KEYS), row["id"]
    (True, 'train-00-flite-slt')
    >>> wav = load_clip("sample-speech", row)          # cropped to whole 320-sample frames
    >>> wav.shape[0] % wl.HOP, wav.shape[0] // wl.HOP
    (0, 487)

Whatever reads a corpus builds it first when it is missing (``ensure_corpus``), with the
same progress bars as ``python -m wgpt_lite data build``; its builder is loaded only then.

``corpus_fingerprint(name)`` is the sha256 of the manifest and of every clip's bytes: the
feature caches, codebooks and checkpoints made from a corpus record it, so a rebuilt
corpus or a replaced clip is never mistaken for the one they were made from.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from wgpt_lite.audio import HOP, crop_to_frames, load_audio
from wgpt_lite.infra.atomic import building_folder, clear_leftovers, publish, writable_folder
from wgpt_lite.infra.errors import AudioError, DataError
from wgpt_lite.infra.files import file_sha256, inside, read_json, read_json_lines, sealed_json, write_json
from wgpt_lite.infra.settings import REPO_ROOT, home_dir, in_clone

SEED = 1234  # one seed for every split decision: same corpus on every machine
EVAL_FRACTION = 1 / 8  # validation and test each get minutes / 8 (8 min for the 64-min default)
SILENT_PEAK = 1e-3  # a clip whose loudest sample is below -60 dBFS is silence, not data
MANIFEST_KEYS = ("id", "split", "path", "seconds", "source", "speaker", "piece", "text", "midi")
SAMPLE_DIR = REPO_ROOT / "data" / "sample"  # the committed sample, in a clone (sample_dir says where else)
CLIPS_RECORD = "clips.json"  # beside the manifest: what the build wrote, {path: {bytes, mtime_ns, sha256}}
KINDS = ("speech", "music")
FOLDER_BUILDER = "folder:build_folder"
FOLDER_SPEC = "folder_spec.json"  # in a folder corpus: its CorpusSpec and source, so that its name resolves
FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # a folder corpus's name: one plain path component
# shortest and longest clip of a folder corpus: short recordings are kept whole, long ones cut like the corpora's
FOLDER_CLIP_SECONDS = {"speech": (1.0, 20.0), "music": (1.0, 30.0)}


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    kind: str  # "speech" | "music": which of the paper's tables it stands beside
    splits: tuple[str, ...]
    clip_seconds: tuple[float, float]  # shortest and longest clip the builder keeps
    minutes: float  # default training minutes (validation and test: minutes / 8 each)
    builder: str = ""  # "module:function" under wgpt_lite.data.builders; "" for the committed samples
    melvq_k: int = 1024  # codebook size when this corpus fits the melvq stand-in
    real: bool = False  # fetched from elsewhere (hub, local folder), not synthesised


SPECS = {
    spec.name: spec
    for spec in (
        CorpusSpec(
            "mini-speech",
            "speech",
            ("train", "validation", "test", "real"),
            (8.0, 20.0),
            64,
            builder="speech:build_mini_speech",
        ),
        CorpusSpec(
            "mini-music", "music", ("train", "validation", "test"), (10.0, 30.0), 64, builder="music:build_mini_music"
        ),
        CorpusSpec(
            "librispeech",
            "speech",
            ("train", "validation", "test"),
            (8.0, 20.0),
            600,
            builder="librispeech:build_librispeech",
            real=True,
        ),
        CorpusSpec(
            "maestro",
            "music",
            ("train", "validation", "test"),
            (10.0, 30.0),
            600,
            builder="maestro:build_maestro",
            real=True,
        ),
        # a handful of seconds, committed; melvq's k shrinks to fit its few frames
        CorpusSpec("sample-speech", "speech", ("train", "validation"), (4.0, 10.0), 0.2, melvq_k=128),
        CorpusSpec("sample-music", "music", ("train", "validation"), (4.0, 10.0), 0.25, melvq_k=128),
    )
}
CORPORA = tuple(SPECS)


def corpus_spec(name: str) -> CorpusSpec:
    """The spec of a known corpus (built-in, or a built folder corpus); an unknown name raises ``DataError``
    listing the known ones and how a folder of audio becomes one."""
    if name in SPECS:
        return SPECS[name]
    recorded = folder_record(name)
    if not recorded:
        raise DataError(
            f"unknown corpus {name!r}; known corpora: {', '.join(corpus_names())}; to use a folder of your own "
            f"audio, build it first: python -m wgpt_lite data build folder --source DIR --name {name}"
        )
    spec = recorded["spec"]
    return CorpusSpec(**{**spec, "splits": tuple(spec["splits"]), "clip_seconds": tuple(spec["clip_seconds"])})


def folder_record(name: str) -> dict:
    """What the build of folder corpus ``name`` recorded (``{"spec", "source"}``); {} for any other name."""
    if name in SPECS or not FOLDER_NAME.fullmatch(name):
        return {}
    path = home_dir() / "corpora" / name / FOLDER_SPEC
    return (
        read_json(path, "the folder corpus's record", f"rebuild it: {rebuild_command(name)}") if path.is_file() else {}
    )


def sample_dir() -> Path:
    """Where the committed sample corpora are read: ``data/sample/`` of the clone the kit runs from;
    installed from a wheel (which carries no audio), ``data/sample/`` under the working directory,
    where each assignment's student folder keeps a copy beside its notebook."""
    return SAMPLE_DIR if in_clone() else Path.cwd() / "data" / "sample"


def rebuild_command(name: str) -> str:
    """The command that makes corpus ``name`` again, for messages about a damaged one."""
    if name in SPECS and name.startswith("sample-") and not in_clone():
        return f"copy the kit's data/sample/ folder (an assignment's student folder has one) to {sample_dir()}"
    if name in SPECS and name.startswith("sample-"):
        return "restore data/sample/ from git (git checkout -- data/sample)"
    if name in SPECS:
        return f"python -m wgpt_lite data build {name} --force"
    return f"python -m wgpt_lite data build folder --source YOUR_AUDIO_FOLDER --name {name} --force"


def corpus_names() -> tuple[str, ...]:
    """The built-in corpora, then the folder corpora built under ``home_dir()/corpora``."""
    folders = home_dir() / "corpora"
    found = sorted(path.parent.name for path in folders.glob(f"*/{FOLDER_SPEC}")) if folders.is_dir() else []
    return CORPORA + tuple(name for name in found if folder_record(name))


def corpus_dir(corpus: str | CorpusSpec) -> Path:
    """Where a corpus lives (built or not): ``data/sample/<kind>`` or ``home_dir()/corpora/<name>``.

    ``corpus``: its name, or its spec (``corpus_spec``: resolved once by whoever reads many clips).
    Any name a folder corpus may take has its place, built or not; other unknown names are refused.
    """
    name = corpus.name if isinstance(corpus, CorpusSpec) else corpus
    if name in SPECS and name.startswith("sample-"):
        return sample_dir() / SPECS[name].kind
    if name not in SPECS and not FOLDER_NAME.fullmatch(name):
        corpus_spec(name)  # raises: says what the known names are
    return home_dir() / "corpora" / name


def is_built(name: str) -> bool:
    """True when the corpus folder is complete (its summary is the last file a build writes)."""
    return (corpus_dir(name) / "summary.json").is_file()


def read_manifest(name: str, split: str | None = None) -> list[dict]:
    """The manifest rows of a corpus (optionally one split), in manifest order; built first if missing."""
    path = ensure_corpus(name) / "manifest.jsonl"
    rows = _manifest_rows(name, path)
    if not rows:
        raise DataError(f"{path}: the corpus's manifest lists no clip; rebuild it: {rebuild_command(name)}")
    if split is None:
        return rows
    splits = corpus_spec(name).splits
    if split not in splits:
        raise DataError(f"corpus {name!r} has no split {split!r}; its splits: {', '.join(splits)}")
    return [row for row in rows if row["split"] == split]


def corpus_summary(name: str) -> dict:
    """``summary.json`` of a corpus (built first if missing): minutes, seconds per split, build time, skipped inputs."""
    return read_json(
        ensure_corpus(name) / "summary.json", "the corpus's summary", f"rebuild it: {rebuild_command(name)}"
    )


def _manifest_rows(name: str, path: Path) -> list[dict]:
    """The rows of a manifest; a line that does not parse is one ``DataError`` naming it."""
    return read_json_lines(path, "the corpus's manifest", f"rebuild it: {rebuild_command(name)}", torn_tail=False)


def load_clip(corpus: str | CorpusSpec, row: dict) -> torch.Tensor:
    """A manifest row's audio, cropped to whole frames; AudioError when it is unusable.

    ``corpus``: its name, or its spec, which a loop over many clips resolves once (``corpus_spec``)."""
    wav = crop_to_frames(load_audio(clip_file(corpus_dir(corpus), row["path"])))
    if wav.shape[-1] == 0:
        raise AudioError(f"{row['path']}: shorter than one {HOP}-sample frame")
    if float(wav.abs().max()) < SILENT_PEAK:
        raise AudioError(f"{row['path']}: silent (peak below -60 dBFS)")
    return wav


def clip_file(root: Path, path: str) -> Path:
    """The file of a manifest's clip ``path`` in corpus folder ``root``; a path leading out of it is refused."""
    return inside(root, path, str(root / "manifest.jsonl"), "the manifest is damaged: rebuild the corpus (--force)")


def report_skipped(where: str, skipped: list[dict], what: str = "inputs") -> None:
    """List every skipped item with its reason on stderr, after a build or an extraction."""
    if skipped:
        print(f"{where}: skipped {len(skipped)} {what}:", file=sys.stderr)
        for item in skipped:
            print(f"  {item['item']}: {item['reason']}", file=sys.stderr)


# ---------------------------------------------------------------------------
# Content fingerprint. Hashing a mini corpus (~0.5 GB) takes about half a second, so a
# clip's hash is remembered with its size and mtime and read again only when one of
# them changed. The build records them (clips.json); later reads remember theirs in a
# sidecar under home_dir(), never in the corpus folder, so the committed sample (whose
# mtimes every git checkout changes) is hashed on first use and the repository is not written.


def clip_records(root: Path, paths: list[str], *known: dict) -> dict[str, dict]:
    """``{path: {"bytes", "mtime_ns", "sha256"}}`` of the files ``root/path``, in order.

    A file whose size and mtime match its record in one of the ``known`` dicts is not read
    again. A missing or unreadable file gets ``None`` everywhere (a clip the extraction skips);
    a path leading out of ``root`` is refused (``clip_file``), so no file elsewhere is hashed.
    """
    return {path: _clip_record(clip_file(root, path), [k.get(path) for k in known]) for path in paths}


def _clip_record(file: Path, known: list[dict | None]) -> dict:
    try:
        stat = file.stat()
        for record in known:
            if record and (record["bytes"], record["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns):
                return record
        return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": file_sha256(file)}
    except OSError:
        return {"bytes": None, "mtime_ns": None, "sha256": None}


def content_sha256(manifest: bytes, clips: dict[str, dict]) -> str:
    """sha256 of a manifest's bytes and of each of its clips' sha256 (``clip_records``, in manifest order)."""
    digest = hashlib.sha256(manifest)
    for path, record in clips.items():
        digest.update(f"\n{path}\t{record['sha256']}".encode())
    return digest.hexdigest()


def corpus_fingerprint(name: str) -> str:
    """sha256 of corpus ``name``'s manifest and of every clip's bytes; changes when any of them does."""
    return content_sha256(*_current_content(name))


def corpus_changes(name: str) -> str:
    """What changed in a corpus, in words, for a message saying why its fingerprint moved."""
    summary = corpus_summary(name)
    if "content_sha256" not in summary:  # the committed sample, or a build from before fingerprints
        return f"{name}'s manifest or audio changed"
    manifest, clips = _current_content(name)
    if content_sha256(manifest, clips) == summary["content_sha256"]:
        return f"{name} was rebuilt (built {summary['built']})"
    built = _build_record(name)
    changed = [path for path, record in clips.items() if built.get(path, {}).get("sha256") != record["sha256"]]
    if not changed:
        return f"{name}'s manifest was edited after its build of {summary['built']}"
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    return f"{name}'s files changed after its build of {summary['built']}: {', '.join(changed[:3])}{more}"


def _current_content(name: str) -> tuple[bytes, dict[str, dict]]:
    """(manifest bytes, ``clip_records`` of its clips now), remembering what was hashed in the sidecar."""
    root = ensure_corpus(name).resolve()
    manifest = (root / "manifest.jsonl").read_bytes()
    paths = [row["path"] for row in _manifest_rows(name, root / "manifest.jsonl")]
    sidecar = home_dir() / "fingerprints" / f"{name}.json"
    remembered = _read_json(sidecar)
    remembered = remembered.get("clips", {}) if remembered.get("folder") == str(root) else {}
    clips = clip_records(root, paths, remembered, _build_record(name))
    if clips != remembered:
        try:
            sidecar.parent.mkdir(parents=True, exist_ok=True)
            write_json(sidecar, {"folder": str(root), "clips": clips})
        except OSError:
            pass  # only a cache (a read-only home, say): the next read hashes again
    return manifest, clips


def _build_record(name: str) -> dict[str, dict]:
    return _read_json(corpus_dir(name) / CLIPS_RECORD)


def _read_json(path: Path) -> dict:
    """A record of clip hashes, or {} when it is missing or damaged: the clips are then hashed again."""
    try:
        return read_json(path, "a record of clip hashes", "")
    except DataError:
        return {}


# ---------------------------------------------------------------------------
# Building. The builders (wgpt_lite/data/builders/) are looked up by name and imported only
# here, so reading a corpus never loads the code that makes one.


def build_corpus(
    name: str,
    minutes: float | None = None,
    jobs: int | None = None,
    force: bool = False,
    source: str | None = None,
    config: str | None = None,
) -> Path:
    """Build corpus ``name`` under ``home_dir()/corpora/`` and return its folder.

    ``minutes``: training minutes (default: the spec's, 64 for the mini corpora);
    validation and test get ``minutes / 8`` each. ``jobs``: worker processes (default
    ``os.cpu_count()``). A complete corpus is kept as it is unless ``force``.
    ``source``/``config``: for ``librispeech`` a Hugging Face dataset name or a local
    copy (OpenSLR's ``LibriSpeech/`` folder, the hub's parquet files, a ``save_to_disk``
    folder), and its config; for ``maestro`` the MAESTRO v3 folder (default
    ``$WGPT_MAESTRO_DIR``, else the subset ``data fetch maestro`` filled, fetched first
    when missing and the network is allowed).

    The corpus's builder (``CorpusSpec.builder``) fills a temporary folder; the manifest
    and the summary are written last, then the folder is renamed into place. A folder
    corpus is rebuilt by ``build_folder_corpus`` (from ``source``, default the one it was built from).
    """
    spec = corpus_spec(name)
    if not spec.builder:
        raise DataError(f"{name} is committed in {SAMPLE_DIR}; regenerate it with: python -m wgpt_lite data sample")
    if spec.builder == FOLDER_BUILDER:
        if minutes is not None:
            raise DataError(f"--minutes does not apply to {name}, a folder corpus: it holds all of its folder's audio")
        return build_folder_corpus(source or folder_record(name)["source"], name, spec.kind, jobs, force)
    minutes = float(minutes if minutes is not None else spec.minutes)
    if minutes <= 0:
        raise DataError(f"--minutes must be positive, got {minutes}")
    return _build(spec, minutes, jobs, force, source=source, config=config)


def build_folder_corpus(
    source: str | os.PathLike, name: str, kind: str = "speech", jobs: int | None = None, force: bool = False
) -> Path:
    """Make corpus ``name`` of the audio files in folder ``source`` (searched recursively); return its folder.

    ``kind`` (speech or music) decides which of the paper's tables its results stand beside.
    The clips, splits and what is skipped: ``wgpt_lite/data/builders/folder.py``. Afterwards
    ``name`` works wherever a corpus name does (``features``, ``train``, ``reproduce``).
    A complete corpus is kept as it is unless ``force``.
    """
    check_folder_corpus_name(name)
    if kind not in KINDS:
        raise DataError(f"--kind {kind!r}: choose {' or '.join(KINDS)}")
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise DataError(f"--source {source}: no such folder; give the folder that holds your audio files")
    built_from = folder_record(name).get("source") if is_built(name) else None
    if built_from and built_from != str(folder.resolve()) and not force:
        raise DataError(f"{name} was built from {built_from}; add --force to rebuild it from {source}")
    # minutes and melvq_k depend on the audio found: the builder records them in folder_spec.json and the summary
    spec = CorpusSpec(
        name, kind, ("train", "validation", "test"), FOLDER_CLIP_SECONDS[kind], 0, FOLDER_BUILDER, real=True
    )
    return _build(spec, 0, jobs, force, source=str(folder.resolve()))


def check_folder_corpus_name(name: str) -> None:
    """Refuse, in one line, a name a folder corpus cannot take: a built-in corpus's, or not one plain word."""
    if name in SPECS:
        raise DataError(f"--name {name}: that is a built-in corpus; give your folder another name")
    if not FOLDER_NAME.fullmatch(name):
        raise DataError(
            f"--name {name!r}: a corpus name is letters, digits, - and _ (at most 64, the first a letter or digit)"
        )


def _build(spec: CorpusSpec, minutes: float, jobs: int | None, force: bool, **builder_options) -> Path:
    """Run ``spec``'s builder in a temporary folder and publish it at ``corpus_dir``: the body of every build."""
    final = corpus_dir(spec.name)
    clear_leftovers(final)  # first: a --force swap killed half-way is put back, not rebuilt
    if is_built(spec.name) and not force:
        return final
    writable_folder(final.parent, "corpus folder (under WGPT_HOME)", fix="set WGPT_HOME to another folder")
    budgets = split_budgets(minutes)
    jobs = max(1, jobs or os.cpu_count() or 1)
    started = time.perf_counter()
    with building_folder(final) as tmp:
        (tmp / "audio").mkdir()
        rows, skipped, about = corpus_builder(spec)(tmp, spec, budgets, jobs, **builder_options)
        shutil.rmtree(tmp / "_work", ignore_errors=True)
        write_manifest(tmp, spec, rows, skipped, minutes, time.perf_counter() - started, about)
        publish(tmp, final, "summary.json", replace=force)
    report_skipped(spec.name, skipped)
    return final


def split_budgets(minutes: float) -> dict[str, float]:
    """Seconds of audio per split for ``minutes`` of training audio: validation and test get ``EVAL_FRACTION`` each."""
    seconds = minutes * 60
    return {"train": seconds, "validation": seconds * EVAL_FRACTION, "test": seconds * EVAL_FRACTION}


def write_manifest(
    root: Path,
    spec: CorpusSpec,
    rows: list[dict],
    skipped: list[dict],
    minutes: float,
    build_seconds: float,
    about: dict,
) -> None:
    """``manifest.jsonl``, ``clips.json`` (every clip hashed once), then ``summary.json`` (last: its
    presence marks the corpus complete) with the corpus's ``content_sha256``."""
    for split in spec.splits:
        if not any(row["split"] == split for row in rows):
            raise DataError(
                f"{spec.name}: the build produced no clip for split {split!r} "
                f"({len(skipped)} inputs skipped); try a larger --minutes"
            )
    manifest = "".join(json.dumps({key: row.get(key, "") for key in MANIFEST_KEYS}) + "\n" for row in rows).encode()
    (root / "manifest.jsonl").write_bytes(manifest)
    clips = clip_records(root, [row["path"] for row in rows])
    (root / CLIPS_RECORD).write_text(sealed_json(clips))
    per_split = {
        split: {
            "clips": sum(r["split"] == split for r in rows),
            "seconds": round(sum(r["seconds"] for r in rows if r["split"] == split), 2),
        }
        for split in spec.splits
    }
    summary = {
        "name": spec.name,
        "kind": spec.kind,
        "minutes": minutes,
        "seed": SEED,
        "splits": per_split,
        "build_seconds": round(build_seconds, 1),
        "built": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "content_sha256": content_sha256(manifest, clips),
        "skipped": skipped,
        **about,
    }
    (root / "summary.json").write_text(sealed_json(summary, indent=1))  # last: marks it complete


def corpus_builder(spec: CorpusSpec):
    """The function that builds ``spec``'s corpus: ``builder(root, spec, budgets, jobs, source=, config=)``."""
    module, function = spec.builder.split(":")
    return getattr(importlib.import_module(f"wgpt_lite.data.builders.{module}"), function)


def ensure_corpus(corpus: str) -> Path:
    """The corpus folder, built first when it is missing: whatever reads a corpus calls this.

    The offline corpora build from local packages; ``librispeech`` streams from the hub
    (or says how to give it a local copy when offline); ``maestro`` builds from
    ``$WGPT_MAESTRO_DIR`` (or says how to fetch a subset). The committed samples are
    always there.
    """
    if is_built(corpus):
        return corpus_dir(corpus)
    spec = corpus_spec(corpus)
    if not spec.builder:
        regenerate = ", or: python -m wgpt_lite data sample" if in_clone() else ""
        raise DataError(f"{corpus_dir(corpus)} is missing; {rebuild_command(corpus)}{regenerate}")
    if spec.builder == FOLDER_BUILDER:  # its audio is the user's, never fetched or made: they build it
        raise DataError(
            f"{corpus}, a folder corpus, is not built (its summary.json is missing); build it: "
            f"python -m wgpt_lite data build folder --source {folder_record(corpus)['source']} --name {corpus}"
        )
    print(f"{corpus} is not built yet: building it now ({spec.minutes:g} training minutes)...", file=sys.stderr)
    build_corpus(corpus)
    return corpus_dir(corpus)
