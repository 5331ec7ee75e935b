"""Where the kit keeps its files, and whether it may use the network.

Everything here is read from the environment at call time, so a notebook or a
test can change a setting with ``os.environ`` without re-importing the kit.

- ``WGPT_HOME``: root for built corpora, feature caches and fitted tokenizers
  (default: ``wgpt_lite/cache`` on a mounted Google Drive, else ``<repo>/.cache``
  when the kit runs from a clone, else ``~/.cache/wgpt_lite``).
- ``WGPT_RESULTS``: root for results folders (default: ``wgpt_lite/results`` on a
  mounted Google Drive, else ``<repo>/results`` in a clone, else ``./results``).
- ``WGPT_DOWNLOADS``: raw downloads (the MAESTRO pieces, tens of GB): ``$WGPT_HOME/downloads``,
  and on the machine's own disk even when caches live on a Drive (a free Drive holds 15 GB).
- ``WGPT_DRIVE``: where Google Drive is mounted (default ``/content/drive/MyDrive``,
  Colab's place). When that folder exists, caches and results live on the Drive, so a
  Colab session that disconnects resumes where it stopped.
- ``WGPT_OFFLINE=1``: never touch the network (EnCodec weights, hub datasets).
- ``WGPT_PRESET``: the size preset, read by ``wgpt_lite.presets.default_preset``.
- ``WGPT_PRECISION``: force ``fp32``, ``bf16`` or ``fp16`` training (``wgpt_lite.infra.device``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COLAB_DRIVE = "/content/drive/MyDrive"  # where drive.mount("/content/drive") puts "My Drive"


def in_clone() -> bool:
    """True when the kit runs from a clone of its repository (not an installed wheel)."""
    return (REPO_ROOT / "pyproject.toml").exists()


def drive_dir() -> Path | None:
    """The kit's folder on a mounted Google Drive (``<drive>/wgpt_lite``), or None without one."""
    drive = os.environ.get("WGPT_DRIVE", COLAB_DRIVE)
    return Path(drive).expanduser() / "wgpt_lite" if drive and Path(drive).expanduser().is_dir() else None


def home_dir() -> Path:
    """Root folder for everything the kit builds (corpora, caches, tokenizers)."""
    if os.environ.get("WGPT_HOME"):
        return Path(os.environ["WGPT_HOME"]).expanduser()
    if drive_dir():
        return drive_dir() / "cache"
    return local_home()


def local_home() -> Path:
    """``home_dir()`` on the machine's own disk: ``<repo>/.cache`` in a clone, else ``~/.cache/wgpt_lite``."""
    return REPO_ROOT / ".cache" if in_clone() else Path.home() / ".cache" / "wgpt_lite"


def downloads_dir() -> Path:
    """Where raw downloads go: ``WGPT_DOWNLOADS``, else ``downloads/`` under the home on the machine's own disk."""
    if os.environ.get("WGPT_DOWNLOADS"):
        return Path(os.environ["WGPT_DOWNLOADS"]).expanduser()
    on_drive = drive_dir() is not None and not os.environ.get("WGPT_HOME")
    return (local_home() if on_drive else home_dir()) / "downloads"  # a free Drive holds only 15 GB


def results_root() -> Path:
    """Root folder of the results folders (``results_dir(preset, tokenizer)`` lives under it)."""
    if os.environ.get("WGPT_RESULTS"):
        return Path(os.environ["WGPT_RESULTS"]).expanduser()
    if drive_dir():
        return drive_dir() / "results"
    return (REPO_ROOT if in_clone() else Path.cwd()) / "results"


def offline() -> bool:
    """True when ``WGPT_OFFLINE`` (or Hugging Face's ``HF_HUB_OFFLINE``) asks for no network."""
    return any(os.environ.get(name, "") not in ("", "0") for name in ("WGPT_OFFLINE", "HF_HUB_OFFLINE"))
