"""Files the kit reads whole: their sha256, and torch files loaded without running code."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import warnings
from pathlib import Path

import torch


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    """What torch's refusal says the file is: a torch file holding Python objects, one cut short, or none at all.

    Torch's own message runs to pages, blurs the three and ends in advice to load the file unsafely.
    """
    text = str(err).strip()
    pickled = re.search(r"GLOBAL (\S+)", text)  # not allowed by default, or from a blocked module (os, sys)
    if pickled:
        return f"it holds pickled Python objects ({pickled[1]}), which wgpt_lite never loads"
    # A pickle that stops before its end, or a zip without its index (torch's reader seeks past the end: EINVAL)
    if isinstance(err, EOFError) or "central directory" in text or getattr(err, "errno", None) == errno.EINVAL:
        return "empty or cut short: the file ends before its data does"
    if isinstance(err, OSError):
        return f"it cannot be read ({err.strerror or err})"
    refused = re.search(r"WeightsUnpickler error:\s*(\S.*)", text)  # "Unsupported operand 110": not torch's pickle
    return f"not a file torch wrote: {refused[1]}" if refused else "not a file torch wrote"
