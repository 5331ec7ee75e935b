"""How the kit's processes end: a SIGTERM unwinds like Ctrl-C, and worker processes never outlive the kit.

- ``sigterm_as_ctrl_c()``: the command line runs each command inside it, so that ``kill PID``
  runs the ``finally`` blocks that delete temporary folders and stop worker pools.
- ``end_with_parent()``: the first thing a worker process does (``builders.common.worker_pool``,
  through ``ending_with_parent``, before the worker imports the kit); from then on it ends when
  the kit's process ends, however that ended (SIGKILL included).
- ``is_running(pid)``: whether a process is still there, so that only the temporaries of the
  dead are deleted (``atomic.clear_leftovers``).
"""

from __future__ import annotations

# The standard library only: spawned workers run this file on its own, before they import the kit
# (``ending_with_parent``).
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# The C library, for the two Linux calls Python has no wrapper for: prctl here, renameat2 in atomic.py.
LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>: the signal this process gets when its parent dies


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While the block runs, SIGTERM raises ``KeyboardInterrupt`` in the main thread, as Ctrl-C does.

    By default SIGTERM ends Python on the spot: no ``finally`` block runs, so a build's temporary
    folder (hundreds of MB) stays behind and its worker pool is never stopped. Inside this block a
    SIGTERM'd command unwinds like an interrupted one; a second SIGTERM ends it at once. Signal
    handlers belong to the main thread, so from any other thread the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM is not held up by the clean-up
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def end_with_parent() -> None:
    """Make this ``multiprocessing`` child end when the process that started it ends, however that ended.

    A pool worker waits for tasks on a pipe whose other end it holds itself, so it never sees its
    parent die: after a kill it would run its task to the end and then wait forever. Two ways out:

    - Linux: the kernel sends SIGKILL the moment the parent dies (``prctl(PR_SET_PDEATHSIG)``). It
      needs nothing from the worker: one busy in C code that holds the GIL, or stopped, dies too.
      ("Parent" means the parent's thread that started the worker: a pool is used inside ``with``
      in one thread, so that thread outlives its workers.)
    - Elsewhere (macOS, Windows): a daemon thread waits on ``multiprocessing.parent_process()``,
      whose sentinel (a pipe's end or a process handle) fires when the parent exits, and then
      exits the worker. It needs the GIL, so a worker deep in a long C call exits after it.

    Both track the process that started the worker: with the kit's ``spawn`` pools that is the
    kit's process itself (with ``forkserver`` the kernel's signal would come from the fork server,
    which exits with the kit; the sentinel tracks the kit directly).
    """
    parent = multiprocessing.parent_process()
    if not _kernel_kills_on_parent_death():
        threading.Thread(target=_exit_after, args=(parent,), daemon=True, name="end-with-parent").start()
    if not parent.is_alive():  # the parent died before we asked: no signal will come
        os._exit(1)


def ending_with_parent(initializer: Callable[[], None]) -> dict:
    """``ProcessPoolExecutor`` keywords for spawned workers that ``end_with_parent`` from their first moment,
    then run ``initializer`` (a module-level function).

    A spawned worker imports its initializer's module before it can run it: for any module of the kit,
    seconds of torch, during which a kill of the kit would leave the worker running on. So the pool's
    initializer is ``exec`` of two lines: the first runs this file on its own (``runpy``, no import of
    the kit) and calls its ``end_with_parent``; the second imports ``initializer`` and runs it.
    """
    start = (
        f"import runpy; runpy.run_path({__file__!r})['end_with_parent']()\n"
        f"from {initializer.__module__} import {initializer.__name__}; {initializer.__name__}()\n"
    )
    return {"initializer": exec, "initargs": (start, {})}


def _kernel_kills_on_parent_death() -> bool:
    """Ask Linux for SIGKILL when the parent dies; False where that cannot be had."""
    return LIBC is not None and LIBC.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL)) == 0


def _exit_after(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()  # returns once the parent has exited
    os._exit(1)  # at once: no clean-up of a half-done task, whose files die with the build folder


def is_running(pid: int) -> bool:
    """True while process ``pid`` exists (any user's); a pid that cannot be checked counts as running.

    A pid is reused once its process is gone, so a True can name another program: its leftovers
    then stay until that one ends too. Never the other way round: a running writer is never
    taken for dead. (A zombie, dead but not yet reaped by its parent, still counts as running.)
    """
    if os.name == "nt":
        return True  # os.kill(pid, 0) on Windows sends CTRL_C_EVENT: never probe, never delete
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists is checked
    except (ProcessLookupError, OverflowError):  # no such process; no such pid at all
        return False
    except PermissionError:
        return True  # it exists and belongs to another user
    return True
