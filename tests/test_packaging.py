"""The install files agree with each other, and CI runs what the README promises."""

import ast
import os
import re
import subprocess
import sys
import warnings
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
from setuptools.config import pyprojecttoml
from setuptools.dist import Distribution

from wgpt_lite import cli
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


def test_the_package_metadata_reads_without_a_setuptools_warning(monkeypatch):
    """pip shows the build backend's warnings: a deprecated licence table printed ~50 lines in every set-up cell."""
    monkeypatch.chdir(ROOT)  # license-files are found from the project's folder
    dist = Distribution()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pyprojecttoml.apply_configuration(dist, ROOT / "pyproject.toml")
    assert dist.metadata.license_expression == "MIT" and dist.metadata.license_files == ["LICENSE"]


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


def test_setup_runs_from_the_standard_library_alone_until_it_installs(tmp_path):
    """As on a machine before set-up (Colab has torch but no soundfile): ``-S`` leaves site-packages out, and a
    stand-in for each of the kit's main dependencies on PYTHONPATH fails to import all the same."""
    for name in ("torch", "soundfile", "soxr", "numpy"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed yet')\n")
    result = subprocess.run(
        [sys.executable, "-S", "-m", "wgpt_lite", "setup", "--dry-run"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"$ pip install -e {ROOT}[" in result.stderr, result.stderr  # got to its install step
    assert f"$ pip install --no-deps {install.ENCODEC}   [dry run: not run]" in result.stderr


def test_only_python_m_wgpt_lite_setup_is_taken_for_the_set_up(monkeypatch):
    python = sys.executable
    cases = [
        (["-m", "setup"], [python, "-m", "wgpt_lite", "setup"], True),
        (["-m", "setup", "--no-pip"], [python, "-u", "-m", "wgpt_lite", "setup", "--no-pip"], True),
        (["-m", "env"], [python, "-m", "wgpt_lite", "env"], False),
        (["-m", "setup"], [python, "-m", "another_tool", "setup"], False),  # a tool that imports the kit
        (["script.py", "-m", "setup"], [python, "script.py", "-m", "wgpt_lite", "setup"], False),
    ]
    for argv, orig_argv, expected in cases:
        monkeypatch.setattr(sys, "argv", argv)
        monkeypatch.setattr(sys, "orig_argv", orig_argv)
        assert install.setup_requested() is expected, orig_argv


def test_the_cli_setup_command_is_the_same_command(monkeypatch, capsys):
    """``wgpt-lite setup`` (the script) goes through cli.py with install's own options."""
    monkeypatch.setattr(install, "missing_packages", lambda: [])
    monkeypatch.setattr(install, "on_colab", lambda: False)
    monkeypatch.setattr(install.subprocess, "run", lambda *a, **k: pytest.fail("a dry run ran a command"))
    assert cli.main(["setup", "--dry-run"]) == 0
    assert f"$ pip install --no-deps {install.ENCODEC}   [dry run: not run]" in capsys.readouterr().err


def test_a_failed_install_is_one_line_naming_the_command(monkeypatch, capsys):
    def fail(pip, dry_run):
        raise subprocess.CalledProcessError(1, ["pip", "install", "-e", "."])

    monkeypatch.setattr(install, "setup", fail)
    assert install.main([]) == 1
    assert capsys.readouterr().err == "error: `pip install -e .` failed with exit status 1 (its output is above)\n"
