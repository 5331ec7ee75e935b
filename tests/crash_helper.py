"""What test_crash.py kills: a stand-in corpus builder with slow tasks, run through the command line.

    python tests/crash_helper.py build HOME PID_DIR  # data build mini-speech --force --jobs 2: tasks that hang
    python tests/crash_helper.py orphan PID_DIR      # one child process that has only the portable watch

Each worker writes its pid into PID_DIR when its task starts, so that the test knows
which processes must die with this one.
"""

import multiprocessing
import os
import sys
import time
from functools import partial
from pathlib import Path

import torch

from wgpt_lite import cli
from wgpt_lite.audio import SAMPLE_RATE
from wgpt_lite.data.builders import speech
from wgpt_lite.data.builders.common import parallel_map, save_clip
from wgpt_lite.infra import processes

HANGING_SECONDS = 60  # longer than any test waits: a worker that is gone was killed


def fake_build(root, spec, budgets, jobs, pid_dir=None, task_seconds=0.0, **_):
    """A corpus builder (see ``builders.common``): one 1-second clip per split, each task taking ``task_seconds``."""
    tasks = [{"root": str(root), "split": split, "pid_dir": pid_dir, "seconds": task_seconds} for split in spec.splits]
    return parallel_map(_slow_clip, tasks, jobs, spec.name), [], {}


def _slow_clip(task: dict) -> dict:
    _announce(task["pid_dir"])
    time.sleep(task["seconds"])
    tone = 0.5 * torch.sin(torch.arange(SAMPLE_RATE) * 0.1)
    return save_clip(Path(task["root"]), task["split"], f"clip-{task['split']}", tone)


def _announce(pid_dir: str | None) -> None:
    if pid_dir:
        (Path(pid_dir) / str(os.getpid())).touch()


def build(home: str, pid_dir: str) -> int:
    os.environ["WGPT_HOME"] = home
    speech.build_mini_speech = partial(fake_build, pid_dir=pid_dir, task_seconds=HANGING_SECONDS)
    return cli.main(["data", "build", "mini-speech", "--force", "--jobs", "2"])


def orphan(pid_dir: str) -> None:
    multiprocessing.get_context("spawn").Process(target=_hang_with_the_portable_watch_only, args=(pid_dir,)).start()
    time.sleep(HANGING_SECONDS)


def _hang_with_the_portable_watch_only(pid_dir: str) -> None:
    processes._kernel_kills_on_parent_death = lambda: False  # as on macOS and Windows
    processes.end_with_parent()
    _announce(pid_dir)
    time.sleep(HANGING_SECONDS)


if __name__ == "__main__":  # not in the spawned workers, which import this file as __mp_main__
    sys.exit({"build": build, "orphan": orphan}[sys.argv[1]](*sys.argv[2:]))
