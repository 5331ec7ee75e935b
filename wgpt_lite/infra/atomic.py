"""Atomic writes: a file or folder is either complete or absent, never half written.

Everything the kit writes to last (audio clips, checkpoints, codebooks, corpora, feature
caches) goes through here. A writer fills a temporary sibling named ``<name>.tmp-<pid>``
and renames it into place at the end; ``os.replace`` is atomic on one filesystem, so a
kill or Ctrl-C leaves the previous version (or nothing), and the pid keeps two writers
apart. Replacing a complete folder (``publish(..., replace=True)``, a ``--force`` rebuild)
swaps the new one in before the old one is deleted.

A kill leaves its temporaries behind: the next writer of the same name deletes those of
processes that are gone (``clear_leftovers``) and never touches a running writer's.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_path(path) as tmp:
    ...     _ = tmp.write_text("complete")
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('complete', ['note.txt'])
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from wgpt_lite.infra.errors import DataError
from wgpt_lite.infra.processes import LIBC, is_running

TEMPORARY_NAME = re.compile(r"\.tmp-\d+$")  # <name>.tmp-<pid>: a file or folder under construction
AT_FDCWD = -100  # <fcntl.h>: paths relative to the working directory
RENAME_EXCHANGE = 2  # <linux/fs.h>: renameat2 swaps the two paths
NO_EXCHANGE_HERE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}  # a filesystem or kernel without it


def temporary_sibling(path: str | os.PathLike, kind: str = "tmp") -> Path:
    """``<path>.tmp-<pid>``: where this process writes before renaming onto ``path``.

    ``kind="old"``: ``<path>.old-<pid>``, where a replaced folder waits while the new one moves in.
    """
    path = Path(path)
    return path.with_name(f"{path.name}.{kind}-{os.getpid()}")


def clear_leftovers(path: str | os.PathLike) -> None:
    """Delete what killed writers of ``path`` left beside it; put back a folder that a killed swap set aside.

    Only leftovers of processes that are gone are touched: a running writer's temporary is its
    work in progress. An ``.old-<pid>`` without ``path`` is the complete folder of a swap killed
    between its two renames (where the system cannot swap in one step): it goes back into place.
    """
    path = Path(path)
    leftover = re.compile(re.escape(path.name) + r"\.(tmp|old)-(\d+)")
    try:
        names = sorted(os.listdir(path.parent))
    except OSError:  # no folder yet (or a file in its place): nothing to clear, and the write itself will say
        return
    for name in names:
        match = leftover.fullmatch(name)
        if not match or is_running(int(match[2])):
            continue
        if match[1] == "old" and not path.exists():
            with suppress(OSError):  # another process put it back first
                os.replace(path.parent / name, path)
        else:
            remove(path.parent / name)


def remove(path: Path) -> None:
    """Delete a file or a folder, if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def writable_folder(path: str | os.PathLike, what: str = "folder", fix: str = "choose another place") -> Path:
    """Create ``path`` if needed and prove it takes a file; otherwise one clear ``DataError`` line that ends in ``fix``.

    Called before long work starts (a read-only Google Drive, a typo'd ``--out`` onto a
    file), so that nothing fails after an hour of training. The probe is a file without a
    name (Linux's ``O_TMPFILE``; elsewhere one unlinked as soon as it is made), so even a
    kill mid-probe leaves nothing in ``path``.
    """
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as err:
        raise _not_writable(path, what, err, fix) from None
    return path


def check_folder_can_be_written(path: Path, what: str, fix: str = "choose another place") -> None:
    """One ``DataError`` line unless ``path`` is, or can be created as, a writable folder; creates nothing.

    For commands that must refuse a bad folder before any work, yet leave no folder behind
    when they fail for another reason; ``writable_folder`` creates it once the work starts.
    ``fix`` ends the line: for a folder an environment variable chose, setting it elsewhere.
    """
    try:
        existing = next(folder for folder in (path, *path.parents) if folder.exists())
        if existing.is_dir():
            tempfile.TemporaryFile(dir=existing).close()  # creating the folder takes a write where it would go
    except OSError as err:
        raise _not_writable(path, what, err, fix) from None
    if not existing.is_dir():
        file = "it" if existing == path else existing
        raise DataError(f"{path}: not usable as the {what}: {file} is a file; {fix}")


def _not_writable(path: Path, what: str, err: OSError, fix: str) -> DataError:
    return DataError(f"{path}: the {what} is not writable ({err.strerror or err}); {fix} or fix its permissions")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write a file at; rename it onto ``path`` when the block ends cleanly.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    # Inside a folder under construction (a build's clips) nothing needs clearing, as the folder
    # goes as a whole; listing thousands of clips before each one would slow a build on Drive.
    if not any(TEMPORARY_NAME.search(part) for part in path.parent.parts):
        clear_leftovers(path)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        remove(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    """``Path.write_text``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


@contextmanager
def building_folder(final: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final`` to build in; it is always removed afterwards.

    The block makes its work visible with ``publish(tmp, final, marker)``; whatever is
    left behind (an exception, an unpublished build) is deleted. Leftovers of killed
    builds of ``final`` are cleared first.
    """
    clear_leftovers(final)
    tmp = temporary_sibling(final)
    remove(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    finally:
        remove(tmp)


def publish(tmp: Path, final: Path, marker: str, replace: bool = False) -> None:
    """Put a finished temporary folder at ``final``: the one step that makes it trusted.

    A folder counts as complete when its ``marker`` file (written last) is there. A
    leftover ``final`` without it (an old crash) is replaced; a complete one that another
    process published meanwhile is kept unless ``replace``. Replacing swaps the new folder
    in before the old one is deleted, so a kill at any step leaves a complete ``final``,
    old or new (where the system cannot swap in one step, after the next writer's clean-up:
    see ``_swap``).
    """
    if final.exists():
        if (final / marker).is_file() and not replace:
            return
        _swap(tmp, final)
        remove(tmp)  # the old folder, now under the temporary name
        return
    try:
        os.replace(tmp, final)
    except OSError:
        if not (final / marker).is_file():
            raise  # not the benign race: a real filesystem problem


def _swap(new: Path, final: Path) -> None:
    """Exchange two folders: ``final`` gets what was at ``new``, and ``new`` the old ``final``.

    Linux swaps them in one step (``renameat2(RENAME_EXCHANGE)``), so ``final`` is there at
    every moment. Elsewhere (macOS, Windows) and on filesystems without it (some FUSE mounts,
    Google Drive's among them) it takes three renames through ``<final>.old-<pid>``: a kill
    between the first two leaves no ``final``, and the next writer puts the old one back
    (``clear_leftovers``).
    """
    if _rename_exchange(new, final):
        return
    aside = temporary_sibling(final, "old")
    os.replace(final, aside)
    os.replace(new, final)
    os.replace(aside, new)


def _rename_exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux's renameat2; False where the system or the filesystem lacks it."""
    renameat2 = getattr(LIBC, "renameat2", None)  # glibc 2.28+, musl 1.2.4+
    if renameat2 is None:
        return False
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in NO_EXCHANGE_HERE:
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))
