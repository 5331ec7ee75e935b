"""What the corpus builders share: clips, worker processes and external tools.

A builder is a function ``build(root, spec, budgets, jobs, source=None, config=None)``
that writes clips under ``root/audio/<split>/`` with ``save_clip`` and returns
``(rows, skipped, about)``: the manifest rows, the inputs it left out with their
reasons, and facts for ``summary.json``. ``wgpt_lite.data.corpora.build_corpus`` runs it in a
temporary folder and publishes the result atomically. To add a corpus: write such a
function, then register a ``CorpusSpec`` naming it in ``wgpt_lite/data/corpora.py``.

Every split decision is seeded with ``corpora.SEED``, so a corpus is the same on every
machine and for any number of ``jobs``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from wgpt_lite.audio import SAMPLE_RATE, save_audio
from wgpt_lite.data.corpora import SILENT_PEAK
from wgpt_lite.infra.errors import AudioError, DataError
from wgpt_lite.infra.files import inside
from wgpt_lite.infra.processes import ending_with_parent

MAX_PIECE_SECONDS = 120  # at most 2 minutes of a piece (music21 score or MAESTRO recording)


def _worker_init() -> None:
    torch.set_num_threads(1)  # the pool is the parallelism; nested threads would fight over 2 cores


@contextmanager
def worker_pool(jobs: int) -> Iterator[Executor]:
    """``with worker_pool(jobs) as pool``: ``jobs`` worker processes (a thread when ``jobs == 1``).

    Leaving the block by an exception (Ctrl-C, a SIGTERM under ``processes.sigterm_as_ctrl_c``,
    a failed task) drops the queued tasks and kills the workers, instead of waiting for
    everything submitted to finish; the build's ``finally`` blocks then run at once. A worker
    also dies when this process is killed outright (``processes.end_with_parent``).
    """
    if jobs == 1:  # in this process: no start-up cost (tests, tiny builds)
        pool = ThreadPoolExecutor(1)
    else:
        # spawn, not fork: a forked child of a process that already ran torch's OpenMP can hang
        # ending_with_parent: a killed build leaves no worker behind, whatever killed it and whenever
        pool = ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), **ending_with_parent(_worker_init))
    try:
        yield pool
    except BaseException:
        if isinstance(pool, ProcessPoolExecutor):  # a thread cannot be stopped: it finishes its task
            for worker in list(pool._processes.values()):  # no public way to do this before Python 3.14
                worker.kill()
        pool.shutdown(cancel_futures=True)
        raise
    pool.shutdown()


def parallel_map(fn, tasks: list, jobs: int, desc: str) -> list:
    """``[fn(t) for t in tasks]`` over ``jobs`` processes, in order, with a progress bar."""
    if jobs == 1 or len(tasks) <= 1:
        return [fn(task) for task in tqdm(tasks, desc=desc, unit="clip")]
    with worker_pool(jobs) as pool:
        return list(
            tqdm(
                pool.map(fn, tasks, chunksize=max(1, len(tasks) // (jobs * 8))),
                total=len(tasks),
                desc=desc,
                unit="clip",
            )
        )


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


def save_clip(root: Path, split: str, clip_id: str, wav, **meta) -> dict:
    """Write one clip under ``audio/<split>/`` and return its manifest row.

    ``clip_id`` may hold a source's own ids (a LibriSpeech row's): one that names a path out of
    ``root`` (``files.inside``) is refused, not written there.
    """
    path = Path("audio") / split / f"{clip_id}.wav"
    file = inside(root, str(path), f"{split} clip", "its name holds an id of a damaged source: use an intact copy")
    file.parent.mkdir(parents=True, exist_ok=True)
    save_audio(file, wav)
    return {"id": clip_id, "split": split, "path": str(path), "seconds": round(wav.shape[-1] / SAMPLE_RATE, 3), **meta}


def pack_clips(pieces: list, lo: float, hi: float, gap: float = 0.0) -> list[tuple[object, list[int]]]:
    """Join consecutive pieces (1-D tensors at 24 kHz) into clips of lo..hi seconds.

    A piece longer than ``hi`` is cut into equal parts; pieces that cannot reach ``lo``
    are dropped. Returns ``(clip, indices of the pieces in it)``.

    >>> import torch
    >>> [(c.shape[0] / 24000, i) for c, i in pack_clips([torch.ones(24000 * 5)] * 3, 8, 12)]
    [(10.0, [0, 1])]
    """
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


def need_tool(tool: str, package: str) -> str:
    """The path of a command-line tool; a missing one names the Debian package that has it."""
    path = shutil.which(tool)
    if not path:
        raise DataError(f"{tool} is not installed; install the Debian package: sudo apt-get install {package}")
    return path


def run_tool(cmd: list[str]) -> None:
    """Run a synthesis tool; its failure is an AudioError (the clip is skipped, the build goes on)."""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise AudioError(f"{Path(cmd[0]).name} did not run: {err}") from err
    if result.returncode != 0:
        raise AudioError(f"{Path(cmd[0]).name} failed ({result.returncode}): {result.stderr.strip()[-300:]}")
