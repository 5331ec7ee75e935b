"""Set a machine up for the kit: the Debian packages of ``system_packages.txt``, then the kit itself.

``python -m wgpt_lite setup`` is the one set-up entry point besides ``make setup``, and
what every notebook's first cell runs on Colab. This module uses the standard library
only, so it runs from a fresh clone before anything is installed, on Python 3.10-3.13::

    python -m wgpt_lite setup              # apt packages (as root, else the command to run), then pip
    python -m wgpt_lite setup --dry-run    # the same commands, printed and not run

Python imports the package ``wgpt_lite`` (and with it torch, soundfile and soxr) before it
runs ``python -m wgpt_lite``'s ``__main__``, so ``wgpt_lite/__init__.py`` asks
``setup_requested()`` first and hands the command to ``main`` here before any other import:
the set-up must not need what it installs. This is also why the command's options are
parsed here, the one exception to "only cli.py parses the command line".

What pip does respects the machine's own deep-learning stack:

- the torch, torchaudio and torchcodec already installed are held at their versions
  (a constraints file made on the spot), so Colab's CUDA builds are never replaced;
- ``encodec`` is installed without its dependencies: it declares torchaudio, which the
  kit never needs (``wgpt_lite.tokenizers.import_encodec``), and which would drag in
  another torch where it is missing;
- on Colab, which brings its own notebook front end and ipywidgets 7, the
  ``notebooks`` extra (JupyterLab, ipywidgets 8) is left out. (The assignments'
  ``teaching`` extra brings ipywidgets 8 all the same; ``import wgpt_lite`` then makes
  Colab draw it: ``wgpt_lite.display.widgets.ready_colab_widgets``.)

The package list lives in one file, ``wgpt_lite/infra/system_packages.txt``; ``make setup`` runs
this file as a script (``python3 wgpt_lite/infra/install.py``) for the same apt step.

    >>> "espeak-ng" in system_packages() and "fluidsynth" in system_packages()
    True
"""

from __future__ import annotations

import argparse
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
SETUP_HELP = "install the system packages and the kit (what a notebook's Colab cell runs)"
SETUP_DESCRIPTION = (
    f"Install the Debian packages listed in {PACKAGE_LIST.name} (as root; otherwise print the apt-get command), "
    f"then pip install -e .[{PIP_EXTRAS}] of this clone ([{COLAB_EXTRAS}] on Colab), holding the installed "
    f"{', '.join(HELD_PACKAGES)}. Needs nothing but the standard library."
)


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


def run_shown(command: list[str], dry_run: bool, shown: str | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Print a command as ``$ ...`` (``shown`` where the real one names a temporary file), then run it.

    With ``dry_run`` it is printed and not run: what ``setup --dry-run`` shows, and what the
    tests check without installing anything.
    """
    note = "   [dry run: not run]" if dry_run else ""
    print(f"$ {shown or ' '.join(command)}{note}", file=sys.stderr, flush=True)
    if dry_run:
        return subprocess.CompletedProcess(command, 0)
    return subprocess.run(command, **kwargs)


def install_system_packages(dry_run: bool = False) -> list[str]:
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
    if run_shown(APT_UPDATE, dry_run, env=env).returncode != 0:  # a stale index is not fatal: install may still work
        print("apt-get update failed (output above); trying the install with the index there is", file=sys.stderr)
    run_shown(command, dry_run, env=env, check=True)
    return missing


def on_colab() -> bool:
    """True in a Google Colab runtime (also in a ``!python`` subprocess there)."""
    if "COLAB_RELEASE_TAG" in os.environ:
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except ModuleNotFoundError:  # no `google` package at all: find_spec of a submodule imports its parent
        return False


def held_versions() -> list[str]:
    """``name==version`` for each of ``HELD_PACKAGES`` that is installed: pip must keep these."""
    held = []
    for name in HELD_PACKAGES:
        try:
            held.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return held


def install_kit(extras: str | None = None, dry_run: bool = False) -> None:
    """``pip install -e .[extras]`` of this clone, holding the installed torch stack; then encodec."""
    extras = extras or (COLAB_EXTRAS if on_colab() else PIP_EXTRAS)
    with tempfile.TemporaryDirectory() as folder:
        constraints = Path(folder) / "held.txt"
        constraints.write_text("\n".join(held_versions()) + "\n")
        pip = [sys.executable, "-m", "pip", "install", "-q"]  # -q: progress bars off, errors and warnings shown
        run_shown(
            [*pip, "-c", str(constraints), "-e", f"{ROOT}[{extras}]"],
            dry_run,
            shown=f"pip install -e {ROOT}[{extras}] (holding {', '.join(held_versions()) or 'nothing'})",
            check=True,
        )
        run_shown([*pip, "--no-deps", ENCODEC], dry_run, shown=f"pip install --no-deps {ENCODEC}", check=True)


def setup(pip: bool = True, dry_run: bool = False) -> None:
    """System packages, then (unless ``pip=False``) the kit with its Python dependencies."""
    install_system_packages(dry_run)
    if pip:
        install_kit(dry_run=dry_run)


def add_setup_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``setup``: the one list, for ``main`` here and for ``cli.py``'s command of the same name."""
    parser.add_argument("--no-pip", dest="pip", action="store_false", help="only the system packages")
    parser.add_argument("--dry-run", action="store_true", help="print the apt-get and pip commands, run none")


def setup_requested() -> bool:
    """True while ``python -m wgpt_lite setup`` imports the package, before its ``__main__`` runs.

    While ``-m`` locates the module, ``sys.argv[0]`` is ``"-m"`` (Python's documented
    behaviour) and ``sys.orig_argv`` holds the module's name, so no other program that
    imports the kit, whatever its arguments, is taken for the set-up.
    """
    if sys.argv[:2] != ["-m", "setup"] or "-m" not in sys.orig_argv:
        return False
    module = sys.orig_argv.index("-m") + 1
    return sys.orig_argv[module : module + 1] == ["wgpt_lite"]


def main(argv: list[str]) -> int:
    """``python -m wgpt_lite setup [options]``, from the standard library alone; the exit status.

    A failed apt-get or pip is one line naming the command (its own output is above it).
    """
    parser = argparse.ArgumentParser(prog="python -m wgpt_lite setup", description=SETUP_DESCRIPTION)
    add_setup_arguments(parser)
    args = parser.parse_args(argv)
    try:
        setup(pip=args.pip, dry_run=args.dry_run)
    except subprocess.CalledProcessError as err:
        command = " ".join(err.cmd)
        print(f"error: `{command}` failed with exit status {err.returncode} (its output is above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # `make setup` runs this file directly, before any Python package is installed
    install_system_packages()
