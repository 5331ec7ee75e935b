"""Atomic writes: leftovers of dead writers are cleared (a running writer's never), and replacing
a complete folder leaves a complete one whatever step a kill interrupts."""

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from wgpt_lite.infra import atomic
from wgpt_lite.infra.atomic import building_folder, clear_leftovers, publish, temporary_sibling, write_text

MARKER = "summary.json"


class Killed(BaseException):
    """What a SIGKILL does to ``publish``: it stops there; nothing after it runs, no ``except``, no ``finally``."""


def dead_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", ""])
    finished.wait()
    return finished.pid


def test_writers_clear_what_dead_writers_left_and_keep_what_running_ones_write(tmp_path):
    dead, running = dead_pid(), os.getppid()  # the process that started these tests runs until they end
    corpus, note = tmp_path / "corpus", tmp_path / "note.txt"
    stale = [tmp_path / f"corpus.tmp-{dead}", tmp_path / f"note.txt.tmp-{dead}"]
    kept = [tmp_path / f"corpus.tmp-{running}", tmp_path / f"note.txt.tmp-{running}", tmp_path / f"other.tmp-{dead}"]
    for path in stale + kept:
        (path / "part.wav").parent.mkdir(parents=True)
        (path / "part.wav").write_bytes(b"half written")

    with building_folder(corpus):
        pass
    write_text(note, "complete")
    assert sorted(tmp_path.iterdir()) == sorted([note, *kept])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="kills forked copies of this process")
def test_the_write_probe_leaves_nothing_in_the_folder_even_when_killed_mid_probe(tmp_path):
    folder = atomic.writable_folder(tmp_path / "results")
    assert not any(folder.iterdir())
    for _ in range(5):  # a copy of this process probes without end, until a SIGKILL stops it wherever it stands
        prober = os.fork()
        if prober == 0:
            try:
                while True:
                    atomic.writable_folder(folder)
            finally:
                os._exit(1)
        time.sleep(0.05)
        os.kill(prober, signal.SIGKILL)
        os.waitpid(prober, 0)
        assert not any(folder.iterdir()), "what a killed probe left"


def folder(path, version: str):
    """A folder in the state a build leaves it: its files, then the marker, written last."""
    path.mkdir(parents=True)
    for name in ("manifest.jsonl", MARKER):
        (path / name).write_text(version)
    return path


def version(path) -> str:
    """The one version a complete folder holds; fails on a missing, unmarked or mixed one."""
    versions = {(path / name).read_text() for name in ("manifest.jsonl", MARKER)}
    assert len(versions) == 1, f"{path} mixes versions {versions}"
    return versions.pop()


@contextmanager
def killed_before_change(number: int, monkeypatch):
    """Inside the block, change ``number`` on disk (0 is the first ``os.replace`` or ``shutil.rmtree``) is killed."""
    changes = itertools.count()

    def or_killed(change):
        def change_or_killed(*args, **kwargs):
            if next(changes) == number:
                raise Killed
            return change(*args, **kwargs)

        return change_or_killed

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", or_killed(os.replace))
        patch.setattr(shutil, "rmtree", or_killed(shutil.rmtree))
        yield


@pytest.mark.parametrize(
    "swap",
    [
        pytest.param("exchange", marks=pytest.mark.skipif(sys.platform != "linux", reason="renameat2 is Linux's")),
        "aside",  # macOS, Windows, filesystems without RENAME_EXCHANGE
    ],
)
def test_replacing_a_folder_leaves_a_complete_one_at_every_step(tmp_path, monkeypatch, swap):
    if swap == "aside":
        monkeypatch.setattr(atomic, "_rename_exchange", lambda new, final: False)
    for step in itertools.count():  # kill publish before its first, second, ... change, until it gets through
        final = folder(tmp_path / f"kill-{step}" / "corpus", "old")
        new = folder(temporary_sibling(final), "new")
        try:
            with killed_before_change(step, monkeypatch):
                publish(new, final, MARKER, replace=True)
            break
        except Killed:
            pass
        if swap == "exchange":  # the folder was never missing, not even for a moment
            assert version(final) in ("old", "new")
        with monkeypatch.context() as next_run:  # the killed writer is gone; the next one starts
            next_run.setattr(atomic, "is_running", lambda pid: pid != os.getpid())
            clear_leftovers(final)
        assert version(final) in ("old", "new") and [p.name for p in final.parent.iterdir()] == ["corpus"]
    assert version(final) == "new" and [p.name for p in final.parent.iterdir()] == ["corpus"]
