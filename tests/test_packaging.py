"""The install files agree with each other, and CI runs what the README promises."""

import re
from pathlib import Path

import tomllib

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
