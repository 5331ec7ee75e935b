"""Killed builds: no worker outlives its build, a SIGTERM cleans up, the next build clears what a SIGKILL left.

The builds run ``tests/crash_helper.py`` (``data build --force`` with a stand-in builder
whose tasks hang) in a subprocess, which the tests kill; one is a real ``python -m wgpt_lite``
build, killed as its workers start.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crash_helper import fake_build

import wgpt_lite as wl
from wgpt_lite.data import corpora
from wgpt_lite.data.builders import speech
from wgpt_lite.infra.processes import is_running, sigterm_as_ctrl_c

HELPER = Path(__file__).with_name("crash_helper.py")
DEADLINE = 10.0  # seconds: generous for starting Python and torch, never waited for when all goes well


def wait_for(condition, what: str, seconds: float = DEADLINE) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds:g} s: {what}")
        time.sleep(0.02)


def worker_running(pid: int) -> bool:
    """Whether ``pid`` is still a running multiprocessing worker.

    Linux: read from /proc, so that a zombie (a worker that died but that no init here reaps)
    or an unrelated process that reuses the pid does not count.
    """
    if not Path("/proc/self").is_dir():
        return is_running(pid)
    try:
        return b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()  # a zombie's is empty
    except OSError:
        return False


@pytest.fixture
def start_helper(tmp_path):
    """``start_helper(*command, workers=n)``: crash_helper.py running ``command``, once n workers run a task.

    Returns the helper's ``Popen`` and its workers' pids. Whatever still runs after the test
    (the helper, a worker that survived it) is killed.
    """
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    helpers = []

    def start(*command: str, workers: int) -> tuple[subprocess.Popen, list[int]]:
        command = [sys.executable, str(HELPER), *command, str(pid_dir)]
        helper = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        helpers.append(helper)
        wait_for(lambda: len(list(pid_dir.iterdir())) == workers or helper.poll() is not None, "the workers start")
        assert helper.poll() is None, helper.stderr.read()
        return helper, [int(path.name) for path in pid_dir.iterdir()]

    yield start
    for helper in helpers:
        helper.kill()  # nothing when the test saw it end
        helper.communicate()
    for pid in (int(path.name) for path in pid_dir.iterdir()):
        if worker_running(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def hanging_build(home, start_helper, monkeypatch):
    """A complete mini-speech, and a ``data build mini-speech --force`` whose two workers hang in their tasks."""
    monkeypatch.setattr(speech, "build_mini_speech", fake_build)
    wl.build_corpus("mini-speech", jobs=1)
    return start_helper("build", str(home), workers=2)


def test_sigkill_takes_the_workers_along_and_the_next_build_clears_its_folder(hanging_build, home):
    build, workers = hanging_build
    manifest = (home / "corpora" / "mini-speech" / "manifest.jsonl").read_text()
    build.kill()
    build.wait()
    wait_for(lambda: not any(map(worker_running, workers)), "the workers die with their parent")
    assert (home / "corpora" / f"mini-speech.tmp-{build.pid}").is_dir(), "what a SIGKILL leaves"
    assert corpora.is_built("mini-speech"), "the old corpus is untouched until the new one is complete"
    assert (home / "corpora" / "mini-speech" / "manifest.jsonl").read_text() == manifest

    wl.build_corpus("mini-speech", jobs=1, force=True)
    assert [path.name for path in (home / "corpora").iterdir()] == ["mini-speech"]


def test_sigterm_unwinds_the_build_its_workers_and_its_temporary_folder(hanging_build, home):
    build, workers = hanging_build
    build.send_signal(signal.SIGTERM)
    try:
        _, stderr = build.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a SIGTERM'd build still runs after {DEADLINE:g} s")
    assert build.returncode == 130 and "interrupted" in stderr, stderr
    assert not any(map(worker_running, workers)), "the build stopped its workers before it exited"
    assert [path.name for path in (home / "corpora").iterdir()] == ["mini-speech"]
    assert corpora.is_built("mini-speech")


def spawned_workers(pid: int) -> list[int]:
    """The pids of the pool workers that process ``pid`` has spawned so far (read from /proc)."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # after "pid (name)": state, then ppid
            if parent == pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                workers.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):  # a process that ended meanwhile
            continue
    return workers


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="finds the workers in /proc")
def test_workers_killed_while_they_start_are_gone_within_a_second_of_their_build(home):
    """A SIGKILL the moment the workers are spawned, before they import the kit (seconds of torch).

    A real ``python -m wgpt_lite data build``: a spawned worker re-imports a script run as ``__main__``
    (crash_helper.py, and the kit with it) before anything of its own runs, but not ``wgpt_lite.__main__``.
    """
    source = corpora.corpus_dir("sample-speech")  # three clips: three tasks for two workers
    command = ["data", "build", "folder", "--source", str(source), "--name", "killed", "--jobs", "2"]
    build = subprocess.Popen([sys.executable, "-m", "wgpt_lite", *command], stderr=subprocess.PIPE, text=True)
    workers = []
    try:
        wait_for(lambda: len(spawned_workers(build.pid)) == 2 or build.poll() is not None, "the workers are spawned")
        workers = spawned_workers(build.pid)
        assert build.poll() is None, build.stderr.read()
        build.kill()
        build.wait()
        wait_for(lambda: not any(map(worker_running, workers)), "the workers die with their parent", seconds=1.0)
    finally:
        build.kill()
        build.communicate()
        for pid in filter(worker_running, workers):
            os.kill(pid, signal.SIGKILL)


def test_without_the_linux_death_signal_a_worker_still_ends_with_its_parent(start_helper):
    parent, (child,) = start_helper("orphan", workers=1)
    parent.kill()
    parent.wait()
    wait_for(lambda: not worker_running(child), "the child notices that its parent is gone")


def test_sigterm_interrupts_only_inside_the_block():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_ctrl_c():
        assert signal.getsignal(signal.SIGTERM) is not before  # or the SIGTERM would end this test run
        os.kill(os.getpid(), signal.SIGTERM)
        wait_for(lambda: False, "the SIGTERM handler runs")
    assert signal.getsignal(signal.SIGTERM) is before
