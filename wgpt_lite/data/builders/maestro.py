"""MAESTRO v3, cut into 10-30 s clips like the offline music corpus.

A MAESTRO folder holds the official CSV and the WAV files it names. Two ways to one:

- the whole dataset (101 GB zip, 120 GB unpacked), given with ``--source DIR`` or
  ``WGPT_MAESTRO_DIR``;
- ``fetch_maestro(hours)`` (``data fetch maestro --hours H``): the CSV and only the
  pieces that a build of ``60 * H`` minutes takes, read out of the published zip with
  HTTP range requests into ``default_maestro_dir()``, where the build looks when neither
  is given. Whole pieces are fetched (the build keeps the first 2 minutes of each): about
  3.5 GB per hour of training audio, validation and test included.

``plan_pieces`` alone decides which pieces: the official CSV split; per split, pieces in
a seeded order until the split's seconds are reached, counting at most
``MAX_PIECE_SECONDS`` of each. So a fetch of H hours and a build of ``60 * H`` minutes
take the same pieces, and a larger fetch holds every smaller one. A fetched folder (it
holds ``FETCH_NOTE``) that lacks pieces a build plans is refused with the fetch to run,
instead of skipping those pieces as unreadable.
"""

from __future__ import annotations

import csv
import math
import os
import random
import re
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from wgpt_lite.audio import SAMPLE_RATE
from wgpt_lite.data.builders.common import MAX_PIECE_SECONDS, pack_clips, parallel_map, save_clip
from wgpt_lite.data.corpora import EVAL_FRACTION, SEED, SILENT_PEAK, CorpusSpec, split_budgets
from wgpt_lite.data.remote_zip import download, extract_members
from wgpt_lite.infra.atomic import writable_folder, write_text
from wgpt_lite.infra.errors import AudioError, DataError
from wgpt_lite.infra.files import inside
from wgpt_lite.infra.settings import downloads_dir, offline

MAESTRO_CSV = "maestro-v3.0.0.csv"
MAESTRO_CSV_URL = "https://storage.googleapis.com/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0.csv"
MAESTRO_ZIP_URL = "https://storage.googleapis.com/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0.zip"
ZIP_FOLDER = "maestro-v3.0.0/"  # every member of the published zip lies under this folder
FETCH_NOTE = "README-wgpt_lite.txt"  # licence, source and selection of a fetch; marks the folder as fetched
CSV_COLUMNS = ("canonical_composer", "canonical_title", "split", "midi_filename", "audio_filename", "duration")
SPLITS = ("train", "validation", "test")


def default_maestro_dir() -> Path:
    """Where ``fetch_maestro`` puts its subset, and where ``build_maestro`` looks when told nothing."""
    return downloads_dir() / "maestro-v3.0.0"


def read_pieces(folder: Path) -> list[dict]:
    """The rows of the official CSV in ``folder``, one per recorded piece.

    Every file a row names must lie inside ``folder`` (``files.inside``): the fetch writes
    there and the build reads there, so a CSV naming ``../x.wav`` is refused here, before either.
    """
    path = folder / MAESTRO_CSV
    if not path.is_file():
        raise DataError(f"{path} is missing; point --source or WGPT_MAESTRO_DIR at the MAESTRO v3 folder")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [column for column in CSV_COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise DataError(
                f"{path} is not MAESTRO v3's CSV (no column {', '.join(missing)}); replace it with the official one"
            )
        pieces = list(reader)
    fix = "replace it with MAESTRO v3's official CSV (a fetch downloads it again once it is deleted)"
    for piece in pieces:
        for column in ("audio_filename", "midi_filename"):
            inside(folder, piece[column], str(path), fix)
    return pieces


def plan_pieces(pieces: list[dict], budgets: dict[str, float]) -> list[dict]:
    """The pieces a build takes: per split, in a seeded order, until ``budgets[split]`` seconds.

    At most ``MAX_PIECE_SECONDS`` of a piece count. Each split's choice is a prefix of
    one seeded order, so a larger budget keeps every piece of a smaller one.
    """
    order = sorted(pieces, key=lambda piece: piece["audio_filename"])
    random.Random(SEED).shuffle(order)
    chosen = []
    for split in SPLITS:
        # to the millisecond, so that --hours H and --minutes 60*H agree whatever the float rounding
        budget, planned = round(budgets[split], 3), 0.0
        for piece in order:
            if piece["split"] == split and planned < budget:
                chosen.append(piece)
                planned += min(float(piece["duration"]), MAX_PIECE_SECONDS)
    return chosen


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


def maestro_folder(source: str | None = None) -> Path:
    """The MAESTRO folder to build from: ``source``, else ``$WGPT_MAESTRO_DIR``, else a fetched subset."""
    if source or os.environ.get("WGPT_MAESTRO_DIR"):
        return Path(source or os.environ["WGPT_MAESTRO_DIR"])
    if (default_maestro_dir() / MAESTRO_CSV).is_file():
        return default_maestro_dir()
    raise DataError(
        "where is MAESTRO v3? fetch a subset (python -m wgpt_lite data fetch maestro --hours H), or pass --source "
        f"DIR or set WGPT_MAESTRO_DIR to the folder holding {MAESTRO_CSV} (magenta.tensorflow.org/datasets/maestro)"
    )


def build_maestro(
    root: Path, spec: CorpusSpec, budgets: dict, jobs: int, source: str | None = None, **_
) -> tuple[list, list, dict]:
    """MAESTRO v3 with its official split; the pieces of ``plan_pieces``, at most 2 minutes of each.

    Without ``source`` or ``$WGPT_MAESTRO_DIR`` and with the network allowed, the pieces
    are fetched first (``fetch_maestro``, resumable), so a first use builds unattended.
    """
    if not source and not os.environ.get("WGPT_MAESTRO_DIR") and not offline() and not fetched(budgets):
        fetch_maestro(fetch_hours(budgets))  # resumes: keeps whatever is already there
    folder = maestro_folder(source)
    pieces = plan_pieces(read_pieces(folder), budgets)
    if (folder / FETCH_NOTE).is_file():
        unfetched = unfetched_pieces(folder, pieces)
        if unfetched:
            dest = "" if folder == default_maestro_dir() else f" --dest {folder}"
            raise DataError(
                f"{folder}: {len(unfetched)} of the {len(pieces)} pieces these minutes take were not fetched; "
                f"run: python -m wgpt_lite data fetch maestro --hours {fetch_hours(budgets):g}{dest}"
            )
    tasks = [
        {**piece, "root": str(root), "maestro": str(folder), "clip_seconds": spec.clip_seconds} for piece in pieces
    ]
    results = parallel_map(_maestro_piece, tasks, jobs, "maestro")
    rows = [row for r in results for row in r.get("rows", [])]
    return rows, [r["skip"] for r in results if "skip" in r], {"source": str(folder)}


def unfetched_pieces(folder: Path, pieces: list[dict]) -> list[dict]:
    """Those of ``pieces`` whose audio is not in ``folder``."""
    return [piece for piece in pieces if not (folder / piece["audio_filename"]).is_file()]


def fetched(budgets: dict[str, float]) -> bool:
    """True when the default folder already holds every piece a build of ``budgets`` takes."""
    folder = default_maestro_dir()
    return (folder / MAESTRO_CSV).is_file() and not unfetched_pieces(folder, plan_pieces(read_pieces(folder), budgets))


def fetch_hours(budgets: dict[str, float]) -> float:
    """The ``--hours`` of fetch that covers a build's budgets, rounded up (a larger fetch holds a smaller one)."""
    return math.ceil(budgets["train"] / 36) / 100


def fetch_maestro(
    hours: float,
    dest: str | Path | None = None,
    zip_url: str = MAESTRO_ZIP_URL,
    csv_url: str = MAESTRO_CSV_URL,
    timeout: float = 60.0,
) -> Path:
    """Download the pieces a build of ``60 * hours`` minutes takes (WAV and MIDI) into ``dest``; return it.

    ``dest`` (default ``default_maestro_dir()``) gets the official CSV, ``FETCH_NOTE``
    and ``<year>/<piece>.wav|.midi`` as in the unpacked zip, read from ``zip_url`` with
    HTTP range requests. Run it again to continue after a kill or an error: files
    already whole are kept. ``timeout``: seconds any one request may wait for the server.
    """
    if offline():
        raise DataError(
            "WGPT_OFFLINE is set, so MAESTRO cannot be downloaded; unset it to fetch, or build from a "
            "MAESTRO v3 folder you have with --source DIR or WGPT_MAESTRO_DIR"
        )
    if hours <= 0:
        raise DataError(f"--hours must be positive, got {hours:g}")
    if dest:
        dest = writable_folder(dest, "--dest folder")
    else:
        dest = writable_folder(
            default_maestro_dir(),
            "download folder (WGPT_DOWNLOADS, else under WGPT_HOME)",
            fix="set WGPT_DOWNLOADS to another folder (or give --dest)",
        )
    if not (dest / MAESTRO_CSV).is_file():
        download(csv_url, dest / MAESTRO_CSV, timeout)
    pieces = plan_pieces(read_pieces(dest), split_budgets(hours * 60))
    # written before the audio, so that the licence comes with every byte fetched
    write_text(dest / FETCH_NOTE, _fetch_note(hours, len(pieces), zip_url, csv_url))
    members = {
        ZIP_FOLDER + name: name for piece in pieces for name in (piece["audio_filename"], piece["midi_filename"])
    }
    fetched = extract_members(zip_url, dest, members, timeout, desc="maestro")
    print(
        f"{dest}: {len(pieces)} pieces; fetched {len(fetched)} files, kept {len(members) - len(fetched)} already there",
        file=sys.stderr,
    )
    return dest


def _fetch_note(hours: float, n_pieces: int, zip_url: str, csv_url: str) -> str:
    return f"""MAESTRO v3.0.0: a subset fetched by wgpt_lite (python -m wgpt_lite data fetch maestro)

Licence: Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International
(CC BY-NC-SA 4.0), https://creativecommons.org/licenses/by-nc-sa/4.0/
Source: The MAESTRO Dataset, Google Magenta, https://magenta.tensorflow.org/datasets/maestro
  {csv_url}
  {zip_url} (only the files of the pieces below, read with HTTP range requests)
Cite: Hawthorne et al., "Enabling Factorized Piano Music Modeling and Generation with the
MAESTRO Dataset", ICLR 2019.

Selection: {n_pieces} pieces (WAV and MIDI), those that `data build maestro --minutes {hours * 60:g}`
takes: per official split, pieces in an order shuffled with seed {SEED}, until {hours:g} h of
training audio and {hours * EVAL_FRACTION:g} h each of validation and test, counting at most
{MAX_PIECE_SECONDS} s of each piece.
"""
