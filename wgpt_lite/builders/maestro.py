"""MAESTRO v3, cut into 10-30 s clips like the offline music corpus.

A local MAESTRO v3 folder with its official CSV split; a seeded choice of pieces, at
most ``MAX_PIECE_SECONDS`` of each.
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

from wgpt_lite.audio import SAMPLE_RATE
from wgpt_lite.builders.common import MAX_PIECE_SECONDS, pack_clips, parallel_map, save_clip
from wgpt_lite.corpora import SEED, SILENT_PEAK, CorpusSpec
from wgpt_lite.errors import AudioError, DataError

MAESTRO_CSV = "maestro-v3.0.0.csv"


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
