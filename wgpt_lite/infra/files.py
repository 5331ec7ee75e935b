"""Files the kit reads whole (their sha256, torch files loaded without running code), and where a
name read from outside (a download, a CSV, a zip, a manifest) may lead: only inside its folder."""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path, PureWindowsPath

import torch

from wgpt_lite.infra.errors import DataError


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inside(folder: Path, name: str, source: str, fix: str) -> Path:
    """``folder / name``, once it is sure to lie inside ``folder``; otherwise one ``DataError`` line.

    For every name the kit did not make itself (a CSV's file names, a zip's members, a manifest's
    clip paths), so that a damaged or hostile file cannot make the kit write or read elsewhere.
    Refused: an empty name (or no string at all), an absolute path, a Windows drive or backslash
    (a path on Windows), and a name that leads out of ``folder`` once ``..`` and symlinks are
    followed (the whole chain is resolved; ``folder`` itself may be a symlink). ``source`` names
    the file or URL the name came from, ``fix`` what to do about it.
    """
    # "C:x", "/x" and "\\x" have an anchor (a drive or a root) as Windows reads them; no name here holds \\ or NUL
    if isinstance(name, str) and name and not PureWindowsPath(name).anchor and not {"\\", "\0"} & set(name):
        target, root = folder / name, folder.resolve()
        resolved = target.resolve()
        if resolved != root and resolved.is_relative_to(root):
            return target
    raise DataError(
        f"{source}: {name!r} is not a path inside {folder} (empty, absolute, a Windows path, or out through "
        f"'..' or a symlink); {fix}"
    )


def load_tensors(path: Path, refuse) -> object:
    """``torch.load`` that unpickles nothing but tensors and plain containers (``weights_only``: a file
    cannot run code); an unreadable file raises ``refuse(reason)``, the caller's ``WgptError``.

    The reason never repeats torch's advice to load the file with ``weights_only`` off: the kit
    never gives it, and the chained torch error that holds it is dropped (``from None``).
    """
    try:
        with warnings.catch_warnings():  # torch's note on a plain pickle's protocol: the reason says it all
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and torch errors alike
        raise refuse(_unreadable_reason(err)) from None


def _unreadable_reason(err: Exception) -> str:
    text = str(err).strip()
    pickled = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if pickled:
        return f"it holds pickled Python objects ({pickled[1]}), which wgpt_lite never loads"
    detail = text.splitlines()[0].split(". ")[0] if text else ""
    if not detail or "weights" in detail.lower():  # torch's "Weights only load failed", and its advice
        return "not a file torch wrote, or one cut short"
    return f"not a file torch wrote, or one cut short: {detail}"
