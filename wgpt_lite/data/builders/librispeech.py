"""LibriSpeech, cut into 8-20 s clips like the offline speech corpus.

Sources (``--source``, default the hub's ``openslr/librispeech_asr``; ``--config``, default ``clean``):

- the Hugging Face hub, streamed with ``datasets``: the repo's own parquet files (revision
  ``main``, split files as its dataset card lists them); while ``main`` still holds a loading
  script, which ``datasets`` >= 4 no longer runs, the hub's parquet export instead (revision
  ``refs/convert/parquet``, laid out ``<config>/<split>/NNNN.parquet``);
- a local folder in OpenSLR's layout: ``LibriSpeech/<split>/<speaker>/<chapter>/*.flac`` with
  ``<speaker>-<chapter>.trans.txt`` (``--source`` names ``LibriSpeech/`` or the folder holding it);
- a local folder in the hub's parquet layout, ``<config>/<split>/*.parquet`` (what
  ``huggingface-cli download openslr/librispeech_asr --repo-type dataset`` writes);
- a local ``datasets`` ``save_to_disk`` folder holding a DatasetDict.

Layouts name their splits differently (``train.100``, ``train.clean.100``, ``train-clean-100``,
``partial-train.100``, ``dev-clean`` ...): a kit split takes the first of its candidate names
(``SPLIT_NAMES``) that the source has, names compared once ``-`` and ``_`` read as ``.``.

Sampling: rows are read in an order seeded with ``corpora.SEED``. Local copies are read speaker by
speaker, the speakers shuffled; streamed parquet shard by shard, the shards shuffled (a shard holds
a few dozen speakers, and only the shards the budget needs are downloaded). Either way each speaker
gives at most ``1 / SPEAKERS_PER_SPLIT`` of the split's budget (at least one longest clip), so a
split draws on many speakers, not the first few in file order; a source with fewer speakers
than that falls short of the budget. Consecutive utterances of one chapter are joined (or a long
one cut) into 8-20 s clips.

Audio is read as encoded bytes and decoded with soundfile: ``datasets``' own audio decoding
needs torchcodec, which the kit does not use.
"""

from __future__ import annotations

import os
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import fsspec  # comes with datasets; reads local folders and hf:// alike
from tqdm.auto import tqdm

from wgpt_lite.audio import SAMPLE_RATE, decode_audio_bytes, load_audio
from wgpt_lite.data.builders.common import pack_clips, save_clip
from wgpt_lite.data.corpora import SEED, SILENT_PEAK, CorpusSpec
from wgpt_lite.infra.errors import AudioError, DataError
from wgpt_lite.infra.settings import offline

HUB_DATASET = "openslr/librispeech_asr"
DEFAULT_CONFIG = "clean"
HUB_REVISION = "main"
PARQUET_EXPORT = "refs/convert/parquet"  # the hub's own parquet conversion of every dataset repo
SPEAKERS_PER_SPLIT = 40  # each speaker gives at most 1/40 of a split's budget (dev-clean has 40 speakers)
# huggingface_hub's waits (seconds) for one answer, read when it is first imported: set here so
# that a dead network fails within a minute whatever the library's defaults, yet a slow link
# (Colab) is not cut off at their 10 s. A user's own settings win.
HUB_TIMEOUTS = {"HF_HUB_ETAG_TIMEOUT": "20", "HF_HUB_DOWNLOAD_TIMEOUT": "60"}

# kit split -> the names it goes by, first found wins: the hub's "clean"/"other" configs, its "all"
# config, OpenSLR's folders (train-clean-100 reads as train.clean.100), and common renamings.
SPLIT_NAMES = {
    "clean": {
        "train": ("train.100", "train.clean.100"),
        "validation": ("validation", "validation.clean", "dev.clean", "dev"),
        "test": ("test", "test.clean"),
    },
    "other": {
        "train": ("train.500", "train.other.500"),
        "validation": ("validation", "validation.other", "dev.other"),
        "test": ("test", "test.other"),
    },
}
LOCAL_LAYOUTS = (
    "OpenSLR's LibriSpeech/<split>/<speaker>/<chapter>/*.flac (the folder LibriSpeech/ or the one holding it)",
    "the hub's parquet files, <config>/<split>/*.parquet (huggingface-cli download)",
    "a datasets save_to_disk folder holding a DatasetDict (dataset_dict.json)",
)
HUB_REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")


@dataclass
class Source:
    """Where LibriSpeech is read from: facts for ``summary.json`` and the splits it has."""

    about: dict  # source, layout, revision, config
    splits: dict[str, Callable[[], Iterable[dict]]]  # split name -> its utterances, in the seeded order


# ---------------------------------------------------------------------------
# The hub


def _import_datasets():
    """``datasets``, imported late (it is heavy) and after the hub's timeouts are set."""
    for name, seconds in HUB_TIMEOUTS.items():
        os.environ.setdefault(name, seconds)
    import datasets

    return datasets


def _without_loading_scripts(datasets) -> dict:
    """Keyword arguments that keep ``datasets`` < 4 from running (2.x) or asking about (3.x) a
    repo's loading script, so that a script repo takes the parquet-export path as on >= 4."""
    return {"trust_remote_code": False} if int(datasets.__version__.split(".")[0]) < 4 else {}


def hub_parquet_files(repo: str, revision: str, config: str) -> dict[str, list[str]]:
    """The parquet files of each split of ``repo``'s ``config`` at ``revision`` (``hf://`` URLs).

    At ``main`` they come from the dataset card, as ``datasets`` reads it: a repo with a loading
    script raises ``datasets``' error for scripts. The parquet export is listed folder by folder.
    """
    datasets = _import_datasets()
    if revision == PARQUET_EXPORT:
        return parquet_split_files(f"hf://datasets/{repo}@{revision}/{config}")
    builder = datasets.load_dataset_builder(repo, config, revision=revision, **_without_loading_scripts(datasets))
    return {str(split): list(files) for split, files in (builder.config.data_files or {}).items()}


def parquet_split_files(folder: str) -> dict[str, list[str]]:
    """``{split: files}`` for a folder (local path or ``hf://`` URL) of ``<split>/*.parquet``."""
    fs, root = fsspec.core.url_to_fs(folder)
    splits = defaultdict(list)
    for path in sorted(fs.glob(f"{root}/*/*.parquet")):
        splits[path.rsplit("/", 2)[-2]].append(fs.unstrip_protocol(path))
    return dict(splits)


def _is_loading_script_error(err: Exception) -> bool:
    """``datasets`` >= 4 refuses a script repo with a RuntimeError, 2.x/3.x with a ValueError."""
    text = str(err)
    return isinstance(err, (RuntimeError, ValueError)) and (
        "Dataset scripts are no longer supported" in text or "trust_remote_code" in text
    )


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:300] if text else 'no message'}"


def _hub_error(repo: str, revision: str, err: Exception) -> DataError:
    return DataError(
        f"cannot read {repo} (revision {revision}) from the Hugging Face hub ({_first_line(err)}); check the "
        "network and the dataset name (a gated dataset needs HF_TOKEN), or pass a local copy with --source DIR"
    )


def _hub_source(repo: str, config: str) -> Source:
    """``repo``'s parquet files at ``main``, or its parquet export when ``main`` has a loading script."""
    if offline():
        raise DataError(
            f"{repo}: WGPT_OFFLINE is set, so the hub cannot be reached; pass a local copy as --source "
            "(an OpenSLR LibriSpeech/ folder, the hub's parquet files or a save_to_disk folder), or unset WGPT_OFFLINE"
        )
    revision, layout = HUB_REVISION, "hub-parquet"
    try:
        try:
            files = hub_parquet_files(repo, revision, config)
        except Exception as err:
            if not _is_loading_script_error(err):
                raise
            # the hub converts every dataset repo to parquet, scripted ones included: read that
            revision, layout = PARQUET_EXPORT, "hub-parquet-export"
            files = hub_parquet_files(repo, revision, config)
    except Exception as err:  # network, gated, renamed, unknown config...: one line saying what to do
        raise _hub_error(repo, revision, err) from err
    on_failure = partial(_hub_error, repo, revision)
    return Source(
        {"source": repo, "layout": layout, "revision": revision, "config": config},
        {split: partial(_stream_parquet, shards, on_failure) for split, shards in files.items()},
    )


def _stream_parquet(files: list[str], on_failure: Callable[[Exception], DataError]) -> Iterator[dict]:
    """The rows of parquet files (local or on the hub), streamed shard by shard in a seeded order."""
    datasets = _import_datasets()
    shards = sorted(files)
    random.Random(SEED).shuffle(shards)
    try:
        stream = datasets.load_dataset("parquet", data_files=shards, split="train", streaming=True)
        yield from stream.cast_column("audio", datasets.Audio(decode=False))
    except Exception as err:  # a connection lost mid-stream, an unreadable shard
        raise on_failure(err) from err


# ---------------------------------------------------------------------------
# Local copies


def _local_source(path: Path, config: str) -> Source:
    """A local copy in one of ``LOCAL_LAYOUTS``."""
    about = {"source": str(path), "revision": None, "config": config}
    if (path / "dataset_dict.json").is_file():
        datasets = _import_datasets()
        loaded = datasets.load_from_disk(str(path))
        splits = {split: partial(_speaker_ordered_rows, loaded[split]) for split in loaded}
        return Source({**about, "layout": "save_to_disk"}, splits)
    for folder in (path / "LibriSpeech", path):
        if any(folder.glob("*/*/*/*.trans.txt")):
            splits = {d.name: partial(_openslr_utterances, d) for d in sorted(folder.iterdir()) if d.is_dir()}
            return Source({**about, "layout": "openslr"}, splits)
    for folder in (path / config, path):
        if any(folder.glob("*/*.parquet")):
            on_failure = partial(_local_error, folder)
            splits = {
                split: partial(_stream_parquet, files, on_failure)
                for split, files in parquet_split_files(str(folder)).items()
            }
            return Source({**about, "layout": "parquet-folder"}, splits)
    raise DataError(f"{path} holds no LibriSpeech copy the kit can read; it reads: " + "; ".join(LOCAL_LAYOUTS))


def _local_error(folder: Path, err: Exception) -> DataError:
    return DataError(f"cannot read the parquet files in {folder} ({_first_line(err)}); download them again")


def _seeded_speakers(speakers: Iterable) -> list:
    """The distinct speakers, shuffled with ``SEED`` (sorted first, so any listing order gives the same)."""
    order = sorted(set(speakers))
    random.Random(SEED).shuffle(order)
    return order


def _openslr_utterances(split_dir: Path) -> Iterator[dict]:
    """One OpenSLR split folder, speaker by speaker in a seeded order, chapters and files in order."""
    for speaker in _seeded_speakers(d.name for d in split_dir.iterdir() if d.is_dir()):
        for chapter in sorted(d for d in (split_dir / speaker).iterdir() if d.is_dir()):
            transcript = chapter / f"{speaker}-{chapter.name}.trans.txt"
            lines = transcript.read_text().splitlines() if transcript.is_file() else []
            texts = dict(line.split(" ", 1) for line in lines if " " in line)
            for flac in sorted(chapter.glob("*.flac")):
                yield {
                    "id": flac.stem,
                    "speaker_id": speaker,
                    "chapter_id": chapter.name,
                    "text": texts.get(flac.stem, ""),
                    "audio": {"bytes": None, "path": str(flac)},
                }


def _speaker_ordered_rows(dataset) -> Iterator[dict]:
    """A ``save_to_disk`` split, speaker by speaker in a seeded order, rows of a speaker in order."""
    datasets = _import_datasets()
    rows_of = defaultdict(list)
    for index, speaker in enumerate(dataset["speaker_id"]):
        rows_of[speaker].append(index)
    order = [index for speaker in _seeded_speakers(rows_of) for index in rows_of[speaker]]
    yield from dataset.cast_column("audio", datasets.Audio(decode=False)).select(order)


# ---------------------------------------------------------------------------
# Building


def _open_source(source: str, config: str) -> Source:
    path = Path(source).expanduser()
    if path.exists():
        return _local_source(path, config)
    if HUB_REPO_ID.fullmatch(source):
        return _hub_source(source, config)
    raise DataError(f"--source {source}: no such folder, and not a hub dataset name (owner/name)")


def _normalised(split: str) -> str:
    """A split name as compared across layouts (the parquet export marks a split it cut short "partial-").

    >>> [_normalised(name) for name in ("train-clean-100", "partial-train.100", "train_100", "dev-clean")]
    ['train.clean.100', 'train.100', 'train.100', 'dev.clean']
    """
    return re.sub(r"[-_]", ".", split.lower().removeprefix("partial-"))


def _pick_split(source: Source, kit_split: str) -> str:
    candidates = SPLIT_NAMES.get(source.about["config"], SPLIT_NAMES[DEFAULT_CONFIG])[kit_split]
    by_name = {_normalised(name): name for name in sorted(source.splits)}
    for candidate in candidates:
        if candidate in by_name:
            return by_name[candidate]
    where = source.about["source"] + (f" (revision {source.about['revision']})" if source.about["revision"] else "")
    raise DataError(
        f"{where}, config {source.about['config']!r}, has no {kit_split} split (looked for "
        f"{', '.join(candidates)}; it has: {', '.join(sorted(source.splits)) or 'nothing'}); "
        "pass another --config or --source"
    )


def _utterance_audio(utterance: dict, name: str):
    """The utterance's audio at 24 kHz; AudioError when it has no transcript or no usable audio."""
    if not utterance["text"]:
        raise AudioError(f"{name}: no transcript")
    audio = utterance["audio"]
    if audio.get("bytes"):
        wav = decode_audio_bytes(audio["bytes"], name)
    elif audio.get("path") and Path(audio["path"]).is_file():
        wav = load_audio(audio["path"])
    else:
        raise AudioError(f"{name}: the row has neither audio bytes nor a readable file")
    if float(wav.abs().max()) < SILENT_PEAK:
        raise AudioError(f"{name}: silent (peak below -60 dBFS)")
    return wav


def _collect_split(
    root: Path, spec: CorpusSpec, split: str, source_split: str, utterances: Iterable[dict], budget: float
) -> tuple[list, list, int]:
    """Clips of one split until ``budget`` seconds, at most a speaker's share from each speaker.

    Returns ``(rows, skipped, speakers)``.
    """
    lo, hi = spec.clip_seconds
    speaker_share = max(budget / SPEAKERS_PER_SPLIT, hi)
    taken = defaultdict(float)  # seconds read per speaker
    rows, skipped, pieces, members = [], [], [], []
    seconds, chapter = 0.0, None
    progress = tqdm(total=round(budget), desc=f"librispeech {split}", unit="s")

    def flush():
        nonlocal seconds
        for clip, indices in pack_clips(pieces, lo, hi):
            first = members[indices[0]]
            row = save_clip(
                root,
                split,
                f"{split}-{len(rows):06d}-{first['id']}",
                clip,
                source="librispeech",
                speaker=str(first["speaker_id"]),
                piece=f"chapter {first['chapter_id']}",
                text=" ".join(members[i]["text"] for i in indices),
            )
            rows.append(row)
            seconds += row["seconds"]
            progress.update(round(row["seconds"]))
        pieces.clear()
        members.clear()

    for utterance in utterances:
        if (utterance["speaker_id"], utterance["chapter_id"]) != chapter:
            flush()  # a clip never spans two chapters
            chapter = (utterance["speaker_id"], utterance["chapter_id"])
        if seconds >= budget:
            break
        if taken[utterance["speaker_id"]] >= speaker_share:
            continue  # this speaker has given its share: leave room for the others
        name = f"{source_split}/{utterance['id']}"
        try:
            wav = _utterance_audio(utterance, name)
        except AudioError as err:
            skipped.append({"item": name, "reason": str(err)})
            continue
        pieces.append(wav)
        members.append(utterance)
        taken[utterance["speaker_id"]] += wav.shape[-1] / SAMPLE_RATE
        pending = sum(piece.shape[-1] for piece in pieces) / SAMPLE_RATE
        if pending >= lo and seconds + pending >= budget:
            flush()  # the budget is reached within this chapter: stop here, not at its end
    flush()
    progress.close()
    return rows, skipped, len({row["speaker"] for row in rows})


def build_librispeech(
    root: Path, spec: CorpusSpec, budgets: dict, jobs: int, source: str | None = None, config: str | None = None
) -> tuple[list, list, dict]:
    """LibriSpeech's own speaker-disjoint splits, seeded speaker spread, chapters joined into clips."""
    opened = _open_source(source or HUB_DATASET, config or DEFAULT_CONFIG)
    rows, skipped, source_splits, speakers = [], [], {}, {}
    for split in spec.splits:
        source_splits[split] = _pick_split(opened, split)
        utterances = opened.splits[source_splits[split]]()
        split_rows, split_skipped, speakers[split] = _collect_split(
            root, spec, split, source_splits[split], utterances, budgets[split]
        )
        rows += split_rows
        skipped += split_skipped
    return rows, skipped, {**opened.about, "source_splits": source_splits, "speakers": speakers}
