"""The install files agree with each other, and CI runs what the README promises."""

import ast
import re
from importlib import metadata
from pathlib import Path

import tomllib

from wgpt_lite.infra import install

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names of the same PyPI packages
CONDA_TO_PYPI = {"pytorch": "torch", "pysoundfile": "soundfile", "soxr-python": "soxr"}


def _requirement(text: str) -> tuple[str, str]:
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", text).groups()
    return CONDA_TO_PYPI.get(name.lower(), name.lower()), spec.replace(" ", "")


def pyproject_requirements() -> set[tuple[str, str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {_requirement(r.split("#")[0]) for r in listed}


def environment_requirements() -> set[tuple[str, str]]:
    dependencies = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    entries = re.findall(r"^\s*-\s+(.+?)\s*$", dependencies, re.M)
    skip = ("python=", "pip", "pip:", "-e .")
    return {
        _requirement(e.replace("=", "==", 1) if re.match(r"[\w.-]+=[^=]", e) else e)
        for e in entries
        if not e.startswith(skip)
    }


def test_environment_yml_lists_the_same_packages_as_pyproject():
    assert environment_requirements() == pyproject_requirements()


def test_torch_is_held_to_the_local_cpu_wheel():
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text().split()
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()


def test_ci_runs_the_readme_test_command_and_nothing_else():
    ci_commands = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert ci_commands == ["make test"]
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def pip_commands(monkeypatch, colab: bool) -> list[list[str]]:
    """The pip commands ``install_kit`` would run, with the constraints file's content inlined."""
    commands = []

    def record(command, check):
        if "-c" in command:
            held = Path(command[command.index("-c") + 1]).read_text().split()
            command = [*command, f"held: {' '.join(held)}"]
        commands.append(command)

    monkeypatch.setattr(install.subprocess, "run", record)
    monkeypatch.setattr(install, "on_colab", lambda: colab)
    install.install_kit()
    return commands


def test_setup_keeps_the_installed_torch_stack_and_skips_jupyterlab_on_colab(monkeypatch):
    kit, encodec = pip_commands(monkeypatch, colab=True)
    assert f"torch=={metadata.version('torch')}" in kit[-1]  # the installed torch is held, never replaced
    assert kit[-2].endswith("[data]"), "Colab brings its own front end: no JupyterLab, no ipywidgets 8"
    assert encodec[-2:] == ["--no-deps", install.ENCODEC], "encodec's torchaudio pin must not pull another torch"
    kit, _ = pip_commands(monkeypatch, colab=False)
    assert kit[-2].endswith("[notebooks,data]")


def test_the_kit_parses_on_the_oldest_python_it_promises():
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"] == ">=3.10"
    for path in sorted((ROOT / "wgpt_lite").rglob("*.py")):
        ast.parse(path.read_text(), str(path), feature_version=(3, 10))  # no 3.11+ syntax


def apt_calls(monkeypatch, missing: list[str], root: bool = True) -> list[tuple[list[str], dict]]:
    """The commands ``install_system_packages`` would run, with their keyword arguments."""
    calls = []

    def record(command, **kwargs):
        calls.append((command, kwargs))
        return install.subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(install.subprocess, "run", record)
    monkeypatch.setattr(install, "missing_packages", lambda: list(missing))
    monkeypatch.setattr(install.os, "geteuid", lambda: 0 if root else 1000)
    monkeypatch.setattr(install.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert install.install_system_packages() == missing
    return calls


def test_setup_refreshes_apt_and_shows_its_output_and_does_nothing_when_all_is_installed(monkeypatch, capsys):
    (update, update_kw), (get, get_kw) = apt_calls(monkeypatch, ["pkg-a", "pkg-b"])
    assert update[:2] == ["apt-get", "update"]  # a fresh Colab runtime has no package index
    assert get[:2] == ["apt-get", "install"] and get[-2:] == ["pkg-a", "pkg-b"]
    for kwargs in (update_kw, get_kw):  # apt's own messages reach the notebook: never discarded
        assert "stdout" not in kwargs and "stderr" not in kwargs and "capture_output" not in kwargs
    assert get_kw.get("check") is True
    assert "$ apt-get update" in capsys.readouterr().err
    assert apt_calls(monkeypatch, []) == []  # idempotent: a second run installs nothing
    assert apt_calls(monkeypatch, ["pkg-a"], root=False) == []  # not root: the commands are printed instead
    assert "sudo apt-get update -q && sudo apt-get install" in capsys.readouterr().err
