"""A folder of your own audio as a corpus: ``python -m wgpt_lite data build folder --source DIR --name NAME``.

Every audio file under ``DIR`` (searched recursively: WAV, FLAC, OGG, MP3 where libsndfile
can) is read at 24 kHz mono, scaled to the corpora's common peak level and cut into
clips of ``corpora.FOLDER_CLIP_SECONDS`` (1-20 s for speech, 1-30 s for music: a longer
file in equal parts, a shorter one whole). Files that cannot be read, are silent or last
less than the shortest clip are skipped and listed in ``summary.json``'s ``skipped``.

Splits go by file, so that the clips of one recording never sit in two splits: with
``train/``, ``validation/`` and ``test/`` sub-folders, those; otherwise the usable files
in an order shuffled with ``corpora.SEED``, validation and test each taking files until
they hold about 1/8 of the audio, at least one file each (so at least three files are
needed). The same files give the same splits on every build and every machine.

The corpus is published like any other (``corpora.build_folder_corpus``); its spec (kind,
training minutes, a melvq codebook size that suits its training frames) and the folder
it came from are recorded in ``folder_spec.json``, which lets its name work wherever a
corpus name does: ``features(NAME, "train")``, ``train --corpus NAME``, ``reproduce --corpus NAME``.
"""

from __future__ import annotations

import math
import os
import random
import re
from dataclasses import asdict, replace
from pathlib import Path

from wgpt_lite.audio import FRAME_RATE, SAMPLE_RATE, normalise_peak
from wgpt_lite.data.audio_folder import audio_files, load_own_audio, skip_reason
from wgpt_lite.data.builders.common import pack_clips, parallel_map, save_clip
from wgpt_lite.data.corpora import EVAL_FRACTION, FOLDER_SPEC, SEED, CorpusSpec
from wgpt_lite.infra.errors import AudioError, DataError
from wgpt_lite.infra.files import sealed_json

SPLITS = ("train", "validation", "test")
PENDING = "_pending"  # clips wait in audio/_pending/ until the split of their file is decided
MELVQ_FRAMES_PER_CODE = 8  # melvq's k: the largest power of two up to 1024 with this many training frames per code


def _cut_file(task: dict) -> dict:
    """Worker: one of the user's files as clips under ``audio/_pending/``; their rows, or why it is skipped."""
    path, lo, hi = Path(task["path"]), *task["clip_seconds"]
    try:
        wav = load_own_audio(path)
    except AudioError as err:
        return {"skip": {"item": task["name"], "reason": skip_reason(err, path)}}
    clips = pack_clips([wav], lo, hi)
    if not clips:
        return {
            "skip": {"item": task["name"], "reason": f"{wav.shape[-1] / SAMPLE_RATE:.2f} s is shorter than {lo:g} s"}
        }
    slug = re.sub(r"[^A-Za-z0-9]+", "_", str(Path(task["name"]).with_suffix(""))).strip("_")
    root = Path(task["root"])
    rows = [
        save_clip(
            root,
            PENDING,
            f"{task['index']:05d}-{slug}-{k:02d}",
            normalise_peak(clip),
            source="folder",
            piece=task["name"],
        )
        for k, (clip, _) in enumerate(clips)
    ]
    return {"rows": rows}


def plan_splits(seconds: dict[str, float]) -> dict[str, str]:
    """Each file's split: in a seeded order, test then validation take files until they hold about
    ``EVAL_FRACTION`` of the audio (at least one each, leaving one for train); train takes the rest.

    >>> from collections import Counter
    >>> Counter(plan_splits({f"{i:02d}.wav": 60.0 for i in range(16)}).values())   # 16 minutes: 2 for each
    Counter({'train': 12, 'test': 2, 'validation': 2})
    """
    if len(seconds) < len(SPLITS):
        raise DataError(
            f"{len(seconds)} usable audio file(s): a corpus needs at least 3 (one each for train, validation and "
            "test), or train/, validation/ and test/ sub-folders; add recordings to --source"
        )
    order = sorted(seconds)
    random.Random(SEED).shuffle(order)
    target = sum(seconds.values()) * EVAL_FRACTION
    split_of, cursor = {}, 0
    for split, later_splits in (("test", 2), ("validation", 1)):
        held = 0.0
        # a file joins while it brings the split closer to its target
        while len(order) - cursor > later_splits and (not held or held + seconds[order[cursor]] / 2 <= target):
            split_of[order[cursor]] = split
            held += seconds[order[cursor]]
            cursor += 1
    return {**split_of, **dict.fromkeys(order[cursor:], "train")}


def _sub_folder_splits(root: Path, names: list[str]) -> dict[str, str] | None:
    """Each file's split from its ``train/``, ``validation/`` or ``test/`` sub-folder; None without them."""
    present = [split for split in SPLITS if (root / split).is_dir()]
    if not present:
        return None
    if len(present) < len(SPLITS):
        missing = ", ".join(f"{split}/" for split in SPLITS if split not in present)
        raise DataError(
            f"--source {root} has {', '.join(f'{s}/' for s in present)} but no {missing}: give all three "
            "sub-folders (train/, validation/, test/) or none (the files are then split for you)"
        )
    return {name: Path(name).parts[0] for name in names if Path(name).parts[0] in SPLITS}


def build_folder(root: Path, spec: CorpusSpec, budgets: dict, jobs: int, source: str, **_) -> tuple[list, list, dict]:
    """The builder of a folder corpus (``corpora.build_folder_corpus``): every usable file of ``source``."""
    folder = Path(source)
    files = audio_files(folder, "--source")
    names = [str(path.relative_to(folder)) for path in files]
    split_of = _sub_folder_splits(folder, names)
    skipped = [
        {"item": name, "reason": "outside the train/, validation/ and test/ sub-folders"}
        for name in names
        if split_of is not None and name not in split_of
    ]
    tasks = [
        {"root": str(root), "path": str(path), "name": name, "index": index, "clip_seconds": spec.clip_seconds}
        for index, (path, name) in enumerate(zip(files, names))
        if split_of is None or name in split_of
    ]
    results = parallel_map(_cut_file, tasks, jobs, spec.name)
    skipped += [r["skip"] for r in results if "skip" in r]
    rows = [row for r in results for row in r.get("rows", [])]
    seconds = {}
    for row in rows:
        seconds[row["piece"]] = seconds.get(row["piece"], 0.0) + row["seconds"]
    if split_of is None:
        split_of = plan_splits(seconds)
    for row in rows:  # each clip into its file's split
        row["split"] = split_of[row["piece"]]
        path = Path("audio") / row["split"] / Path(row["path"]).name
        (root / path).parent.mkdir(exist_ok=True)
        os.replace(root / row["path"], root / path)
        row["path"] = str(path)
    (root / "audio" / PENDING).rmdir()
    empty = [split for split in SPLITS if not any(row["split"] == split for row in rows)]
    if empty:
        raise DataError(
            f"--source {folder}: no usable audio in {', '.join(f'{s}/' for s in empty)} ({len(skipped)} skipped)"
        )
    rows.sort(key=lambda row: (SPLITS.index(row["split"]), row["id"]))
    train_frames = sum(row["seconds"] for row in rows if row["split"] == "train") * FRAME_RATE
    built = replace(
        spec,
        minutes=round(train_frames / FRAME_RATE / 60, 3),
        melvq_k=min(1024, 2 ** int(math.log2(max(2, train_frames / MELVQ_FRAMES_PER_CODE)))),
    )
    (root / FOLDER_SPEC).write_text(sealed_json({"spec": asdict(built), "source": str(folder)}, indent=1))
    files_by_split = {split: sorted({row["piece"] for row in rows if row["split"] == split}) for split in SPLITS}
    # "minutes" replaces the requested minutes in summary.json: a folder corpus holds what its folder holds
    return rows, skipped, {"source": str(folder), "minutes": built.minutes, "files": files_by_split}
