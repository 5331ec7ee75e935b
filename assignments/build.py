"""Build the student release and the autograders of every assignment with Otter Assign.

    python assignments/build.py                  # every assignment, into assignments/dist/
    python assignments/build.py 03-metrics       # one of them
    python assignments/build.py --out /tmp/x     # elsewhere
    python assignments/build.py --no-run-tests   # skip grading the solutions (faster)

Each master notebook ``assignments/<nn-name>/<name>.ipynb`` (solutions and hidden tests
inside, in Otter's format) gives ``<out>/<nn-name>/student/`` (the notebook without
solutions, with the public tests in ``tests/``: what students get) and
``<out>/<nn-name>/autograder/`` (the solutions notebook, every test, and
``<name>-autograder_<time>.zip`` for Gradescope, ``otter grade`` or ``otter run``). Unless
``--no-run-tests``, Otter then grades the solutions notebook against every test and fails
the build if it scores less than full marks. ``make assignments`` runs this.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIST = HERE / "dist"


def masters() -> dict[str, Path]:
    """Assignment folder name -> its master notebook (the one ``.ipynb`` in the folder)."""
    found = {}
    for folder in sorted(p for p in HERE.iterdir() if p.is_dir() and p.name[:2].isdigit()):
        notebooks = sorted(folder.glob("*.ipynb"))
        if len(notebooks) != 1:
            raise SystemExit(f"{folder}: expected exactly one master notebook, found {len(notebooks)}")
        found[folder.name] = notebooks[0]
    return found


def build(name: str, out: Path, run_tests: bool = True) -> Path:
    """Run Otter Assign on one master notebook; return ``out/name``."""
    from otter.assign import main as otter_assign

    result = out / name
    otter_assign(str(masters()[name]), str(result), no_pdfs=True, no_run_tests=not run_tests)
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
    for name in args.names or known:
        print(f"== {name}", flush=True)
        result = build(name, args.out.resolve(), run_tests=not args.no_run_tests)
        print(f"   student release: {result / 'student'}\n   autograder:      {result / 'autograder'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
