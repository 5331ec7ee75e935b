"""What code made an artefact: the kit's version and, in a git clone, the commit and whether
tracked files differ from it. Recorded beside every artefact's provenance, never compared."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata

from wgpt_lite.infra.settings import REPO_ROOT


@functools.cache
def code_version() -> dict:
    """The code that makes an artefact, recorded beside its provenance (never compared): the kit's
    version and, when it runs from a git clone, the commit and whether tracked files differ from it."""
    try:
        version = metadata.version("wgpt_lite")
    except metadata.PackageNotFoundError:
        version = "not installed (run from the source tree)"
    return {"wgpt_lite": version, **_git_state()}


def _git_state() -> dict:
    if not (REPO_ROOT / ".git").exists():
        return {}  # a wheel, or a copy without history (git would answer for a repository around it)

    def git(*args: str) -> str:
        command = ["git", "-C", str(REPO_ROOT), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=10, check=True).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "uncommitted_changes": bool(git("status", "--porcelain", "-uno"))}
    except (OSError, subprocess.SubprocessError):  # no git, or one that refuses this folder
        return {}


def describe_code(code: dict) -> str:
    """``code_version()`` in words: ``0.1.0, commit ebda442e (with uncommitted changes)``."""
    if "commit" not in code:
        return code["wgpt_lite"]
    changes = " (with uncommitted changes)" if code["uncommitted_changes"] else ""
    return f"{code['wgpt_lite']}, commit {code['commit'][:8]}{changes}"
