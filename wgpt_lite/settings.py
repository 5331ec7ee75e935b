"""Where the kit keeps its files, and whether it may use the network.

Everything here is read from the environment at call time, so a notebook or a
test can change a setting with ``os.environ`` without re-importing the kit.

- ``WGPT_HOME``: root for built corpora, feature caches and fitted tokenizers
  (default ``<repo>/.cache`` when the kit runs from a clone, else
  ``~/.cache/wgpt_lite``).
- ``WGPT_OFFLINE=1``: never touch the network (EnCodec weights, hub datasets).
- ``WGPT_PRESET``: the size preset, read by ``wgpt_lite.presets.default_preset``.
- ``WGPT_PRECISION``: force ``fp32``, ``bf16`` or ``fp16`` training (``wgpt_lite.device``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def in_clone() -> bool:
    """True when the kit runs from a clone of its repository (not an installed wheel)."""
    return (REPO_ROOT / "pyproject.toml").exists()


def home_dir() -> Path:
    """Root folder for everything the kit builds (corpora, caches, tokenizers)."""
    if os.environ.get("WGPT_HOME"):
        return Path(os.environ["WGPT_HOME"]).expanduser()
    if in_clone():
        return REPO_ROOT / ".cache"
    return Path.home() / ".cache" / "wgpt_lite"


def offline() -> bool:
    """True when ``WGPT_OFFLINE`` (or Hugging Face's ``HF_HUB_OFFLINE``) asks for no network."""
    return any(os.environ.get(name, "") not in ("", "0") for name in ("WGPT_OFFLINE", "HF_HUB_OFFLINE"))
