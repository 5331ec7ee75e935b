"""What checking a file's digest on every read costs: a checkpoint and a feature cache, read as the
kit reads them (digest checked) and as torch and ``datasets`` read them alone.

The checkpoints hold a real model with its AdamW state (as ``checkpoint.pt`` does); the feature
cache is a stand-in of the size of a mini corpus's training split, random tokens and mel in the
cache's own columns, sealed as ``features()`` seals it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.report import Table
from bench.timing import time_calls
from wgpt_lite.data.feature_cache import EXTRACTION, checked_record
from wgpt_lite.infra.errors import CheckpointError
from wgpt_lite.infra.files import folder_digests, load_tensors, save_tensors, sealed_json
from wgpt_lite.presets import build_model

CPU = torch.device("cpu")
CHECKPOINTS = (("gpt-l", "mini"), ("gpt-l", "paper"))  # the largest model of the CPU preset and of the paper's
CACHE_MINUTES = 70  # a mini corpus's training split: ~40 MB of Arrow
CLIP_SECONDS = 10


def checkpoint_state(model_name: str, preset: str) -> dict:
    """A model's weights and its AdamW state after one step: what a checkpoint holds, in size."""
    model = build_model(model_name, preset)
    optimizer = torch.optim.AdamW(model.parameters())
    sum(p.sum() for p in model.parameters()).backward()
    optimizer.step()
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": 1}


def feature_cache(folder: Path, minutes: float) -> None:
    """A sealed cache of ``minutes`` of random tokens and mel, in ``features()``'s columns and record."""
    import datasets

    frames, clips = CLIP_SECONDS * 75, int(minutes * 60 / CLIP_SECONDS)
    rng = np.random.default_rng(0)
    columns = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("int16")),
            "mel": datasets.Array2D((None, 64), "float16"),
            "seconds": datasets.Value("float32"),
        }
    )
    rows = {
        "id": [f"clip-{i}" for i in range(clips)],
        "tokens": [rng.integers(0, 1024, frames, dtype=np.int16) for _ in range(clips)],
        "mel": [rng.standard_normal((frames, 64)).astype(np.float16) for _ in range(clips)],
        "seconds": [float(CLIP_SECONDS)] * clips,
    }
    datasets.disable_progress_bars()
    datasets.Dataset.from_dict(rows, features=columns).save_to_disk(str(folder))
    (folder / EXTRACTION).write_text(sealed_json({"skipped": [], "files": folder_digests(folder, EXTRACTION)}))


def run(ctx) -> list[Table]:
    import datasets

    table = Table(
        "Reading sealed files: the digest checked vs the file read alone",
        ["file", "size (MB)", "read alone (s)", "read and checked (s)", "checked / alone"],
    )
    repeats = 1 if ctx.quick else 3
    with tempfile.TemporaryDirectory(prefix="wgpt-bench-") as tmp:
        for model_name, preset in CHECKPOINTS[:1] if ctx.quick else CHECKPOINTS:
            path = Path(tmp) / f"{model_name}-{preset}.pt"
            save_tensors(path, checkpoint_state(model_name, preset))
            alone = time_calls(lambda: torch.load(path, map_location="cpu", weights_only=True), CPU, repeats=repeats)
            checked = time_calls(lambda: load_tensors(path, CheckpointError), CPU, repeats=repeats)
            table.add(
                f"checkpoint.pt, {model_name} ({preset}) + AdamW state",
                path.stat().st_size / 1e6,
                alone.seconds,
                checked.seconds,
                f"{checked.seconds / alone.seconds:.2f}×",
            )
        cache = Path(tmp) / "cache"
        feature_cache(cache, CACHE_MINUTES / (10 if ctx.quick else 1))
        size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())

        def checked_read():
            checked_record(cache, EXTRACTION, "the feature cache", "run again")
            return datasets.load_from_disk(str(cache))

        alone = time_calls(lambda: datasets.load_from_disk(str(cache)), CPU, repeats=repeats)
        checked = time_calls(checked_read, CPU, repeats=repeats)
        table.add(
            f"feature cache, {CACHE_MINUTES / (10 if ctx.quick else 1):g} min of clips (Arrow)",
            size / 1e6,
            alone.seconds,
            checked.seconds,
            f"{checked.seconds / alone.seconds:.0f}×",
        )
    table.notes += [
        f"Median of {repeats} reads after one warm-up, files in the page cache (a second read of the same "
        "run): the cost of hashing, not of the disk. A checkpoint's digest is taken over the tensors torch "
        "loaded (sha256 of their bytes), a feature cache's over its files' bytes.",
        "`datasets.load_from_disk` maps the Arrow file without reading it, so the check (reading every byte "
        "once) is most of a checked read; training then reads the same bytes from the page cache.",
    ]
    return [table]
