"""Atomic writes: a file or folder is either complete or absent, never half written.

Everything the kit writes to last (audio clips, checkpoints, codebooks, corpora, feature
caches) goes through here. A writer fills a temporary sibling named ``<name>.tmp-<pid>``
and renames it into place at the end; ``os.replace`` is atomic on one filesystem, so a
kill or Ctrl-C leaves the previous version (or nothing), and the pid keeps two writers
apart.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_path(path) as tmp:
    ...     _ = tmp.write_text("complete")
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('complete', ['note.txt'])
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wgpt_lite.errors import DataError


def temporary_sibling(path: str | os.PathLike) -> Path:
    """``<path>.tmp-<pid>``: where this process writes before renaming onto ``path``."""
    path = Path(path)
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def remove(path: Path) -> None:
    """Delete a file or a folder, if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def writable_folder(path: str | os.PathLike, what: str = "folder") -> Path:
    """Create ``path`` if needed and prove it takes a file; otherwise one clear ``DataError`` line.

    Called before long work starts (a read-only Google Drive, a typo'd ``--out`` onto a
    file), so that nothing fails after an hour of training.
    """
    path = Path(path).expanduser()
    probe = temporary_sibling(path / ".write-test")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise DataError(
            f"{path}: the {what} is not writable ({err.strerror or err}); choose another place or fix its permissions"
        ) from None
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write a file at; rename it onto ``path`` when the block ends cleanly.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
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
    left behind (an exception, an unpublished build) is deleted.
    """
    tmp = temporary_sibling(final)
    remove(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    finally:
        remove(tmp)


def publish(tmp: Path, final: Path, marker: str, replace: bool = False) -> None:
    """Rename a finished temporary folder into place: the one step that makes it trusted.

    A folder counts as complete when its ``marker`` file (written last) is there. A
    leftover ``final`` without it (an old crash) is replaced; a complete one that another
    process published meanwhile is kept unless ``replace``.
    """
    if final.exists() and (replace or not (final / marker).is_file()):
        shutil.rmtree(final)
    try:
        os.replace(tmp, final)
    except OSError:
        if not (final / marker).is_file():
            raise  # not the benign race: a real filesystem problem
