"""Set a machine up for the kit: the Debian packages of ``system_packages.txt``, then the kit itself.

``python -m wgpt_lite setup`` is the one set-up entry point besides ``make setup``, and
what every notebook's first cell runs on Colab. This module uses the standard library
only, so it runs from a fresh clone before anything is installed, on Python 3.10-3.13::

    python -m wgpt_lite setup              # apt packages (as root, else the command to run), then pip

What pip does respects the machine's own deep-learning stack:

- the torch, torchaudio and torchcodec already installed are held at their versions
  (a constraints file made on the spot), so Colab's CUDA builds are never replaced;
- ``encodec`` is installed without its dependencies: it declares torchaudio, which the
  kit never needs (``wgpt_lite.tokenizers.import_encodec``), and which would drag in
  another torch where it is missing;
- on Colab, which brings its own notebook front end and ipywidgets 7, the
  ``notebooks`` extra (JupyterLab, ipywidgets 8) is left out.

The package list lives in one file, ``wgpt_lite/infra/system_packages.txt``; ``make setup`` runs
this file as a script (``python3 wgpt_lite/infra/install.py``) for the same apt step.

    >>> "espeak-ng" in system_packages() and "fluidsynth" in system_packages()
    True
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

PACKAGE_LIST = Path(__file__).with_name("system_packages.txt")
ROOT = Path(__file__).resolve().parents[2]
PIP_EXTRAS = "notebooks,data"  # JupyterLab and widgets, the offline corpora's builders
COLAB_EXTRAS = "data"  # Colab has its own front end and widgets
ENCODEC = "encodec==0.1.1"
HELD_PACKAGES = ("torch", "torchaudio", "torchcodec")  # installed builds (CUDA ones on Colab) stay as they are


def system_packages() -> list[str]:
    """The Debian packages the kit needs, from ``system_packages.txt``."""
    lines = (line.split("#", 1)[0].strip() for line in PACKAGE_LIST.read_text().splitlines())
    return [line for line in lines if line]


def missing_packages() -> list[str]:
    """Those of ``system_packages()`` that dpkg does not report as installed (all, without dpkg)."""
    if not shutil.which("dpkg-query"):
        return system_packages()
    missing = []
    for package in system_packages():
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
        if "install ok installed" not in status.stdout:
            missing.append(package)
    return missing


APT_UPDATE = ["apt-get", "update", "-q"]


def install_system_packages() -> list[str]:
    """apt-get the missing packages when root; otherwise print the commands. Returns what was missing.

    Idempotent: nothing runs when every package is installed. apt's own output is shown
    (on Colab it is the only clue when a package cannot be found); the package index is
    refreshed first, because a fresh Colab runtime or container has none or a stale one.
    """
    missing = missing_packages()
    if not missing:
        print(f"system packages: all {len(system_packages())} installed", file=sys.stderr)
        return []
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            "Missing system packages. Run once:\n  sudo " + " ".join(APT_UPDATE) + " && sudo " + " ".join(command),
            file=sys.stderr,
        )
        return missing
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("$ " + " ".join(APT_UPDATE), file=sys.stderr, flush=True)
    if subprocess.run(APT_UPDATE, env=env).returncode != 0:  # a stale index is not fatal: install may still work
        print("apt-get update failed (output above); trying the install with the index there is", file=sys.stderr)
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    subprocess.run(command, env=env, check=True)
    return missing


def on_colab() -> bool:
    """True in a Google Colab runtime (also in a ``!python`` subprocess there)."""
    return "COLAB_RELEASE_TAG" in os.environ or importlib.util.find_spec("google.colab") is not None


def held_versions() -> list[str]:
    """``name==version`` for each of ``HELD_PACKAGES`` that is installed: pip must keep these."""
    held = []
    for name in HELD_PACKAGES:
        try:
            held.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return held


def install_kit(extras: str | None = None) -> None:
    """``pip install -e .[extras]`` of this clone, holding the installed torch stack; then encodec."""
    extras = extras or (COLAB_EXTRAS if on_colab() else PIP_EXTRAS)
    with tempfile.TemporaryDirectory() as folder:
        constraints = Path(folder) / "held.txt"
        constraints.write_text("\n".join(held_versions()) + "\n")
        pip = [sys.executable, "-m", "pip", "install", "-q"]  # -q: progress bars off, errors and warnings shown
        print(
            f"$ pip install -e {ROOT}[{extras}] (holding {', '.join(held_versions()) or 'nothing'})",
            file=sys.stderr,
            flush=True,
        )
        subprocess.run([*pip, "-c", str(constraints), "-e", f"{ROOT}[{extras}]"], check=True)
        print(f"$ pip install --no-deps {ENCODEC}", file=sys.stderr, flush=True)
        subprocess.run([*pip, "--no-deps", ENCODEC], check=True)


def setup(pip: bool = True) -> None:
    """System packages, then (unless ``pip=False``) the kit with its Python dependencies."""
    install_system_packages()
    if pip:
        install_kit()


if __name__ == "__main__":  # `make setup` runs this file directly, before any Python package is installed
    install_system_packages()
