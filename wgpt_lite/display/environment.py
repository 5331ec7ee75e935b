"""What this machine gives the kit, and what the kit will choose.

The first thing to run on a new machine (``python -m wgpt_lite env``, and notebook 00):
the device and precision training will use, the default preset, which tokenizer
``auto`` picks and why, and where corpora, caches and results live (on Google Drive
when it is mounted).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch

from wgpt_lite.data.corpora import CORPORA, is_built
from wgpt_lite.infra.code_version import code_version, describe_code
from wgpt_lite.infra.device import pick_device, pick_precision
from wgpt_lite.infra.encodec_weights import encodec_checkpoint_candidates
from wgpt_lite.infra.settings import REPO_ROOT, drive_dir, home_dir, in_clone, offline, results_root
from wgpt_lite.presets import default_preset
from wgpt_lite.tokenizers import get_tokenizer


def environment_report() -> dict[str, str]:
    """An ordered ``{fact: value}`` description of the machine and the kit's choices."""
    device = pick_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    preset = default_preset()
    tok = get_tokenizer("auto")
    return {
        "wgpt_lite": describe_code(code_version()),  # what every checkpoint and result records
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "device": f"{device.type} ({name})",
        "precision for training": pick_precision(device)
        + (" (from WGPT_PRECISION)" if os.environ.get("WGPT_PRECISION") else ""),
        "CPU threads": str(torch.get_num_threads()),
        "preset": preset + (" (from WGPT_PRESET)" if os.environ.get("WGPT_PRESET") else " (default for this machine)"),
        "tokenizer 'auto' picks": f"{tok.name}, because {tok.auto_reason}",
        "EnCodec weights looked for in": " ; ".join(shown_path(p) for p in encodec_checkpoint_candidates()),
        "network": "off (WGPT_OFFLINE)" if offline() else "allowed",
        "corpora, caches, tokenizers": shown_path(home_dir()),
        "results": shown_path(results_root()),
        "Google Drive": f"mounted: caches and results kept in {drive_dir()}" if drive_dir() else "not mounted",
        "corpora built": ", ".join(c for c in CORPORA if is_built(c)) or "none yet",
    }


def shown_path(path: Path) -> str:
    """A path as its reader knows it, the same on every machine: inside this clone as ``<clone>/...``,
    under the home folder as ``~/...``; any other path whole (a Drive folder, ``WGPT_HOME`` elsewhere)."""
    path = Path(path)
    for root, label in ((REPO_ROOT, "<clone>"), (Path.home(), "~")):
        if (root != REPO_ROOT or in_clone()) and path.is_relative_to(root):
            return f"{label}/{path.relative_to(root)}"
    return str(path)


def format_report(report: dict[str, str]) -> str:
    """The report as aligned ``fact  value`` lines."""
    width = max(map(len, report))
    return "\n".join(f"{key:<{width}}  {value}" for key, value in report.items())
