"""Files the kit reads whole: their sha256, and torch files loaded without running code."""

from __future__ import annotations

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
    text = str(err).strip()
    pickled = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if pickled:
        return f"it holds pickled Python objects ({pickled[1]}), which wgpt_lite never loads"
    detail = text.splitlines()[0].split(". ")[0] if text else ""
    if not detail or "weights" in detail.lower():  # torch's "Weights only load failed", and its advice
        return "not a file torch wrote, or one cut short"
    return f"not a file torch wrote, or one cut short: {detail}"
