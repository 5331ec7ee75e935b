"""The paper's corpora, cut into clips like the offline ones: LibriSpeech and MAESTRO v3.

- ``librispeech``: Hugging Face ``datasets`` (streamed from the hub, or a local
  ``save_to_disk`` folder). Audio is taken as encoded bytes and decoded with soundfile,
  since ``datasets``' own audio decoding needs torchcodec. Utterances of one chapter are
  joined into 8-20 s clips.
- ``maestro``: a local MAESTRO v3 folder with its official CSV split; a seeded choice of
  pieces, at most ``MAX_PIECE_SECONDS`` of each.
"""

from __future__ import annotations

import csv
import os
import random
import re
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from wgpt_lite.audio import SAMPLE_RATE, decode_audio_bytes, load_audio
from wgpt_lite.builders.common import MAX_PIECE_SECONDS, pack_clips, parallel_map, save_clip
from wgpt_lite.corpora import SEED, SILENT_PEAK, CorpusSpec
from wgpt_lite.errors import AudioError, DataError
from wgpt_lite.settings import offline

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
        raise DataError(
            f"{source}: WGPT_OFFLINE is set, so the hub cannot be reached; pass a local "
            "save_to_disk folder as --source, or unset WGPT_OFFLINE"
        )
    else:
        loaded = datasets.load_dataset(source, config, split=split, streaming=True)
    # datasets' own audio decoding needs torchcodec: take the encoded bytes instead
    return loaded.cast_column("audio", datasets.Audio(decode=False))


def _decode_row_audio(audio: dict, name: str):
    if audio.get("bytes"):
        return decode_audio_bytes(audio["bytes"], name)
    if audio.get("path") and Path(audio["path"]).is_file():
        return load_audio(audio["path"])
    raise AudioError(f"{name}: the row has neither audio bytes nor a readable file")


def build_librispeech(
    root: Path, spec: CorpusSpec, budgets: dict, jobs: int, source: str | None = None, config: str | None = None
) -> tuple[list, list, dict]:
    """Utterances of each chapter, in dataset order, joined or cut into 8-20 s clips."""
    source, config = source or LIBRISPEECH_DATASET, config or LIBRISPEECH_CONFIG
    rows, skipped = [], []
    for split, hf_split in LIBRISPEECH_SPLITS.items():
        seconds, group, pieces, metas = 0.0, None, [], []

        def flush():
            nonlocal seconds
            for clip, members in pack_clips(pieces, *spec.clip_seconds):
                first = metas[members[0]]
                row = save_clip(
                    root,
                    split,
                    f"{split}-{len(rows):06d}-{first['id']}",
                    clip,
                    source="librispeech",
                    speaker=str(first["speaker_id"]),
                    piece=f"chapter {first['chapter_id']}",
                    text=" ".join(metas[i]["text"] for i in members),
                )
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
    root, audio_path = Path(task["root"]), Path(task["maestro"]) / task["audio_filename"]
    try:
        info = sf.info(str(audio_path))
        data, rate = sf.read(
            str(audio_path), frames=int(MAX_PIECE_SECONDS * info.samplerate), dtype="float32", always_2d=True
        )
        if data.shape[0] == 0 or not np.isfinite(data).all():
            raise AudioError("no samples, or NaN/infinite samples")
    except Exception as err:  # soundfile raises several kinds for a corrupt or missing file
        return {"skip": {"item": task["audio_filename"], "reason": f"not readable audio ({err})"[:300]}}
    wav = torch.from_numpy(soxr.resample(data.mean(axis=1), rate, SAMPLE_RATE, quality="HQ").astype(np.float32))
    if float(wav.abs().max()) < SILENT_PEAK:
        return {"skip": {"item": task["audio_filename"], "reason": "silent (peak below -60 dBFS)"}}
    slug = re.sub(r"[^A-Za-z0-9]+", "_", Path(task["audio_filename"]).stem).strip("_")
    rows = [
        save_clip(
            root,
            task["split"],
            f"{slug}-{index:02d}",
            clip,
            source="maestro",
            speaker=task["canonical_composer"],
            piece=task["canonical_title"],
            midi=task["midi_filename"],
        )
        for index, (clip, _) in enumerate(pack_clips([wav], *task["clip_seconds"]))
    ]
    return {"rows": rows}


def build_maestro(
    root: Path, spec: CorpusSpec, budgets: dict, jobs: int, source: str | None = None, **_
) -> tuple[list, list, dict]:
    """MAESTRO v3 with its official split; seeded choice of pieces, at most 2 minutes of each."""
    folder = Path(source or os.environ.get("WGPT_MAESTRO_DIR", ""))
    if not source and not os.environ.get("WGPT_MAESTRO_DIR"):
        raise DataError(
            "where is MAESTRO v3? pass --source DIR or set WGPT_MAESTRO_DIR to the folder "
            f"holding {MAESTRO_CSV} (download: magenta.tensorflow.org/datasets/maestro)"
        )
    if not (folder / MAESTRO_CSV).is_file():
        raise DataError(
            f"{folder / MAESTRO_CSV} is missing; point --source or WGPT_MAESTRO_DIR at the MAESTRO v3 folder"
        )
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
    results = parallel_map(_maestro_piece, tasks, jobs, "maestro")
    rows = [row for r in results for row in r.get("rows", [])]
    return rows, [r["skip"] for r in results if "skip" in r], {"source": str(folder)}
