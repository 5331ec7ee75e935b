"""Where the kit keeps its files, and which size preset it runs by default.

Everything here is read from the environment at call time, so a notebook or a
test can change a setting with ``os.environ`` without re-importing the kit.

- ``WGPT_PRESET``: ``paper`` | ``mini`` | ``smoke``. Unset: ``paper`` on a GPU,
  ``mini`` otherwise. CI sets ``smoke`` so the notebooks run in seconds.
- ``WGPT_HOME``: root for built corpora, feature caches and fitted tokenizers
  (default ``<repo>/.cache`` when the kit runs from a clone, else
  ``~/.cache/wgpt_lite``).
- ``WGPT_OFFLINE=1``: never touch the network (EnCodec weights, hub datasets).
"""

from __future__ import annotations

import os
from pathlib import Path

PRESETS = ("paper", "mini", "smoke")

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_preset() -> str:
    """The size preset named by ``WGPT_PRESET``, or the best fit for this machine."""
    preset = os.environ.get("WGPT_PRESET", "").strip().lower()
    if preset:
        if preset not in PRESETS:
            from wgpt_lite.errors import ModelError

            raise ModelError(f"WGPT_PRESET={preset!r} is not a preset; choose one of {', '.join(PRESETS)}")
        return preset
    import torch  # imported here so that reading a path stays cheap

    return "paper" if torch.cuda.is_available() else "mini"


def home_dir() -> Path:
    """Root folder for everything the kit builds (corpora, caches, tokenizers)."""
    if os.environ.get("WGPT_HOME"):
        return Path(os.environ["WGPT_HOME"]).expanduser()
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT / ".cache"
    return Path.home() / ".cache" / "wgpt_lite"


def offline() -> bool:
    """True when ``WGPT_OFFLINE`` (or Hugging Face's ``HF_HUB_OFFLINE``) asks for no network."""
    return any(os.environ.get(name, "") not in ("", "0") for name in ("WGPT_OFFLINE", "HF_HUB_OFFLINE"))
