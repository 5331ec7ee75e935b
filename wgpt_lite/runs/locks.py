"""One writer per run folder: a lock that a run holds on its folder while it writes there.

Two runs training into one folder (a notebook and a terminal, two Colab tabs) would
interleave one ``metrics.jsonl`` and race on the checkpoint, and both would "succeed".
A ``RunFolder`` (``wgpt_lite/runs/run_folder.py``) therefore holds ``run_lock(run_dir)`` for the
whole run, from before its first write; a second writer is refused with one line that names the first and what to do.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with run_lock(folder):
    ...     with run_lock(folder):     # a second writer, even in the same process
    ...         pass
    Traceback (most recent call last):
    wgpt_lite.infra.errors.TrainingError: ... is being written by this process (PID ...), since ...; wait for it ...

How: ``fcntl.flock`` on ``<run_dir>/.lock``, which records the holder's PID, host, start
time and command line (JSON) for that message. The operating system releases a flock when
its holder ends, however it ends (Ctrl-C, a crash, ``kill -9``, a restarted kernel), so a
dead run never blocks a folder: the next writer takes the lock and writes its own details
over the dead one's. The file stays in the folder, empty between runs: deleting it could
let two writers lock two different files of the same name.

Each ``run_lock`` is a writer of its own: nesting it, or a second run into the same
folder from a thread of the same notebook kernel, is refused like another process. A child
forked (not started afresh) while the lock is held shares it, and holds it until it ends.

Where there are no locks, the run goes on unguarded, with a warning: on Windows (Python has
no ``fcntl`` there) and on filesystems that refuse locks. A network or FUSE mount (Google
Drive in Colab) may keep a lock on the machine that took it, unseen by other machines.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from wgpt_lite.infra.errors import TrainingError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_FILE = ".lock"


@contextmanager
def run_lock(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of ``run_dir`` (created if needed) while the block runs; yield the lock file's path.

    Raises ``TrainingError`` (one line: who holds it, since when, what to do) when another
    writer holds it, this process included.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    with open(path, "a+") as lock_file:  # "a+": create it if needed, keep what it says until the lock is ours
        locked = _lock(lock_file, run_dir)
        if locked:
            _record(lock_file, _this_process())
        try:
            yield path
        finally:
            if locked:
                _record(lock_file, None)  # nobody writes here any more; closing the file releases the lock


def _this_process() -> dict:
    """What the lock file records about this process: ``pid``, ``host``, ``started``, ``command``."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": shlex.join(sys.orig_argv),
    }


def _lock(lock_file, run_dir: Path) -> bool:
    """Take the lock without waiting: True once it is ours, False (with a warning) where there are no locks."""
    if fcntl is None:
        return _unguarded(run_dir, "this platform has no file locks")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise TrainingError(_busy_message(run_dir, _recorded(lock_file))) from None
    except OSError as err:  # ENOLCK, EOPNOTSUPP: a filesystem without locks
        return _unguarded(run_dir, f"its filesystem refuses locks ({err.strerror or err})")
    return True


def _unguarded(run_dir: Path, why: str) -> bool:
    warnings.warn(f"{run_dir}: {why}, so nothing stops a second run from writing into this folder", stacklevel=2)
    return False


def _record(lock_file, record: dict | None) -> None:
    lock_file.seek(0)
    lock_file.truncate()
    if record:
        lock_file.write(json.dumps(record) + "\n")
    lock_file.flush()


def _recorded(lock_file) -> dict | None:
    """The holder the lock file names; None when it names none yet (the holder is about to write it)."""
    lock_file.seek(0)
    try:
        return json.loads(lock_file.read())
    except json.JSONDecodeError:
        return None


def _busy_message(run_dir: Path, recorded: dict | None) -> str:
    if recorded is None:
        who = "another process"
    elif recorded["pid"] == os.getpid() and recorded["host"] == socket.gethostname():
        who = f"this process (PID {recorded['pid']}), since {recorded['started']}"
    else:
        command = " ".join(recorded["command"].split())  # one line, even for a `python -c` script
        who = f"PID {recorded['pid']} on {recorded['host']}, since {recorded['started']} ({command})"
    return f"{run_dir} is being written by {who}; wait for it to finish, or train into another folder (--out)"
