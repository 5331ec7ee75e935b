"""One writer per run folder: a second writer is refused in one line, a dead one's lock is taken over."""

import json
import os
import shlex
import socket
import subprocess
import sys
from datetime import datetime, timedelta

import numpy as np
import pytest
from datasets import Dataset

import wgpt_lite as wl
from wgpt_lite.infra.errors import TrainingError
from wgpt_lite.runs import locks
from wgpt_lite.runs.locks import LOCK_FILE, run_lock

HOLD_THE_LOCK = """
import sys, time
from wgpt_lite.runs.locks import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def run_dir(tmp_path):
    return tmp_path / "run"


@pytest.fixture
def other_writer(run_dir):
    """Another process, holding the lock of ``run_dir`` until it is killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if process.stdout.readline() != "locked\n":
        process.kill()
        pytest.fail(f"the lock holder did not start: {process.communicate()[1]}")
    yield process
    process.kill()
    process.wait()


def recorded(run_dir) -> dict:
    return json.loads((run_dir / LOCK_FILE).read_text())


def test_a_second_writer_is_refused_in_one_line_naming_the_first(other_writer, run_dir):
    with pytest.raises(TrainingError) as refused, run_lock(run_dir):
        pass
    message = str(refused.value)
    assert "\n" not in message
    assert f"is being written by PID {other_writer.pid} on {socket.gethostname()}, since " in message
    assert message.endswith("wait for it to finish, or train into another folder (--out)")
    assert recorded(run_dir)["pid"] == other_writer.pid, "a refused writer leaves the holder's record alone"


def test_the_lock_of_a_killed_writer_is_taken_over_and_its_record_replaced(other_writer, run_dir):
    other_writer.kill()  # SIGKILL: no cleanup ran, the record still names the dead process
    other_writer.wait()
    assert recorded(run_dir)["pid"] == other_writer.pid
    with run_lock(run_dir):
        assert recorded(run_dir)["pid"] == os.getpid()


def test_the_lock_file_records_who_holds_it_and_is_emptied_on_release(run_dir):
    with run_lock(run_dir) as path:
        holder = json.loads(path.read_text())
        started = datetime.fromisoformat(holder.pop("started"))
        assert holder == {"pid": os.getpid(), "host": socket.gethostname(), "command": shlex.join(sys.orig_argv)}
        assert abs(datetime.now().astimezone() - started) < timedelta(minutes=1)
    assert path.read_text() == ""
    with run_lock(run_dir):  # released: the next run takes it
        pass


def test_a_nested_lock_in_the_same_process_is_a_second_writer_too(run_dir):
    with run_lock(run_dir):
        with pytest.raises(TrainingError, match=rf"is being written by this process \(PID {os.getpid()}\)"):
            with run_lock(run_dir):
                pass
        assert recorded(run_dir)["pid"] == os.getpid()


def test_without_file_locks_the_run_goes_on_with_a_warning(run_dir, monkeypatch):
    monkeypatch.setattr(locks, "fcntl", None)  # as on Windows
    with pytest.warns(UserWarning, match="no file locks, so nothing stops a second run"), run_lock(run_dir):
        pass


def test_train_is_refused_before_it_writes_into_a_folder_another_run_holds(other_writer, run_dir):
    config = wl.train_config("smoke", steps=1)
    clips = {
        "id": ["a", "b"],
        "tokens": [np.arange(100, dtype=np.int16) % 16] * 2,
        "mel": [np.zeros((100, wl.N_MELS), np.float16)] * 2,
        "seconds": [100 / wl.FRAME_RATE] * 2,
    }
    data = Dataset.from_dict(clips)
    run = wl.RunInfo(model="gpt-s", preset="smoke", corpus="synthetic", tokenizer="melvq")
    model = wl.build_model("gpt-s", "smoke", vocab_size=16)
    eval_batch = wl.eval_crops(data, config.context, n_crops=2)
    with pytest.raises(TrainingError, match=f"PID {other_writer.pid}"):
        wl.train_in_folder(model, data, eval_batch, config, run_dir, run, progress=False)
    assert [path.name for path in run_dir.iterdir()] == [LOCK_FILE], "no metrics, no checkpoint"
