"""Build the student release and the autograders of every assignment with Otter Assign.

    python assignments/build.py                  # every assignment, into assignments/dist/
    python assignments/build.py 03-metrics       # one of them
    python assignments/build.py --out /tmp/x     # elsewhere
    python assignments/build.py --no-run-tests   # skip grading the solutions (faster)

Each master notebook ``assignments/<nn-name>/<name>.ipynb`` (solutions and hidden tests
inside, in Otter's format) gives:

- ``<out>/<nn-name>/student/``, **the release, all that students get**: the notebook without
  solutions, the public tests in ``tests/``, a wheel of the kit (``wgpt_lite-*.whl``) and the
  committed sample clips (``data/sample/``), which a wheel cannot carry; and the same folder
  zipped as one folder ``<nn-name>/`` (so that two assignments unzipped side by side keep their
  own ``tests/``), ``<out>/<nn-name>/<nn-name>-student.zip`` (what a Colab student uploads). The
  notebook's set-up cell installs the kit from that wheel where it is missing (on Colab it takes
  the wheel, ``data/`` and ``tests/`` out of the zip, never a notebook, never over a file already
  there), so a student never needs the kit's repository, which holds the masters, their hidden
  tests and ``docs/answers.md``.
- ``<out>/<nn-name>/autograder/``: the solutions notebook, every test, and
  ``<name>-autograder_<time>.zip`` for Gradescope, ``otter grade`` or ``otter run``, which
  installs the same wheel (``requirements``: its path inside the autograder).

The wheel is built once per run, offline, from a copy of the package alone (``wgpt_lite/``,
``pyproject.toml`` and, as the README its metadata names, ``STUDENT_README``: the repository's
README points at the masters and at ``docs/answers.md``, and the wheel's metadata is what students
can read with ``pip show -v``): ``pip wheel --no-deps
--no-build-isolation`` with the setuptools already installed. Otter Assign runs on a staged
copy of the master whose ``# ASSIGNMENT CONFIG`` gains the wheel and ``data/`` as ``files``
(copied into both folders and the autograder zip) and the wheel as ``requirements``: the
committed masters name neither, so a new version of the kit needs no edit in them. Unless
``--no-run-tests``, Otter then grades the solutions notebook against every test and fails
the build if it scores less than full marks. ``make assignments`` runs this.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DIST = HERE / "dist"
CONFIG_MARK = "# ASSIGNMENT CONFIG"
AUTOGRADER_FILES = "/autograder/source/files"  # where Gradescope and `otter grade` unpack the zip's files/
# The wheel's README (its metadata's long description), in place of the repository's: no link to the
# repository, nothing about where the solutions are.
STUDENT_README = """# wgpt_lite

Whisper-GPT lite: a small kit to see, train and measure hybrid mel + token audio language models, after
Verma (2024), "Whisper-GPT: a hybrid representation audio large language model".

This copy of the kit comes with a course assignment: the assignment's notebook installs it from the wheel
beside it and imports it as `import wgpt_lite as wl`. The sample clips it reads are in the assignment's
`data/` folder, not in the wheel. The code is under the MIT licence.
"""


def masters() -> dict[str, Path]:
    """Assignment folder name -> its master notebook (the one ``.ipynb`` in the folder)."""
    found = {}
    for folder in sorted(p for p in HERE.iterdir() if p.is_dir() and p.name[:2].isdigit()):
        notebooks = sorted(folder.glob("*.ipynb"))
        if len(notebooks) != 1:
            raise SystemExit(f"{folder}: expected exactly one master notebook, found {len(notebooks)}")
        found[folder.name] = notebooks[0]
    return found


def kit_wheel(into: Path) -> Path:
    """Build the kit's wheel into ``into`` from a copy of the package alone; return its path.

    A copy, so that nothing but ``wgpt_lite/`` can reach the wheel (no ``build/`` left over from
    an older build, no ``assignments/``) and the clone is not written to. Offline: the setuptools
    of this environment builds it, and pip's last line says why when it cannot."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "wgpt_lite-source"
        shutil.copytree(ROOT / "wgpt_lite", source / "wgpt_lite", ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("pyproject.toml", *(p.name for p in ROOT.glob("LICENSE*"))):
            shutil.copy(ROOT / name, source / name)
        (source / "README.md").write_text(STUDENT_README)  # the name pyproject.toml's `readme` gives
        into.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        pip = subprocess.run([*command, "-q", "-w", str(into), str(source)], capture_output=True, text=True)
        if pip.returncode:
            last = (pip.stderr.strip() or pip.stdout.strip() or "no message").splitlines()[-1]
            raise SystemExit(f"pip could not build the kit's wheel: {last}")
    (wheel,) = into.glob("wgpt_lite-*.whl")
    return wheel


def stage(name: str, wheel: Path, staging: Path) -> Path:
    """Copy master ``name`` into ``staging`` with the wheel and the sample beside it, its config naming
    them as Otter ``files`` and the wheel as the autograder's requirement; return the staged master."""
    import yaml  # Otter's dependency, like everything this script needs beyond the standard library

    master = masters()[name]
    notebook = json.loads(master.read_text())
    cell = notebook["cells"][0]
    source = "".join(cell["source"])
    if cell["cell_type"] != "raw" or not source.startswith(CONFIG_MARK):
        raise SystemExit(f"{master}: the first cell must be the raw {CONFIG_MARK} cell")
    config = yaml.safe_load(source[len(CONFIG_MARK) :])
    config["files"] = [*config.get("files", []), wheel.name, "data"]
    config["requirements"] = [*config.get("requirements", []), f"{AUTOGRADER_FILES}/{wheel.name}"]
    cell["source"] = f"{CONFIG_MARK}\n{yaml.safe_dump(config, sort_keys=False)}"
    staged = staging / master.name
    staged.write_text(json.dumps(notebook, indent=1))
    shutil.copy(wheel, staging / wheel.name)
    shutil.copytree(ROOT / "data" / "sample", staging / "data" / "sample")
    return staged


def build(name: str, out: Path, wheel: Path, run_tests: bool = True) -> Path:
    """Run Otter Assign on one master notebook with ``wheel`` as its kit; return ``out/name``."""
    from otter.assign import main as otter_assign

    result = out / name
    with tempfile.TemporaryDirectory() as staging:
        staged = stage(name, wheel, Path(staging))
        otter_assign(str(staged), str(result), no_pdfs=True, no_run_tests=not run_tests)
    student = result / "student"
    with zipfile.ZipFile(result / f"{name}-student.zip", "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(p for p in student.rglob("*") if p.is_file()):
            bundle.write(path, Path(name) / path.relative_to(student))  # one folder, <nn-name>/
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="assignment folders (default: all), e.g. 01-causal-mel")
    parser.add_argument("--out", type=Path, default=DIST, help=f"output folder (default: {DIST})")
    parser.add_argument("--no-run-tests", action="store_true", help="do not grade the solutions notebooks")
    args = parser.parse_args(argv)
    known = masters()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown assignment(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = kit_wheel(Path(tmp))
        print(f"kit: {wheel.name}", flush=True)
        for name in args.names or known:
            print(f"== {name}", flush=True)
            result = build(name, out, wheel, run_tests=not args.no_run_tests)
            print(f"   student release: {result / 'student'} (zipped: {result / f'{name}-student.zip'})")
            print(f"   autograder:      {result / 'autograder'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
