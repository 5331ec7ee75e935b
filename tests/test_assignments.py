"""The course assignments (assignments/, Otter-Grader): for every one of them, Otter Assign builds
the student and autograder versions; the solutions notebook gets full marks from its autograder
(public and hidden tests); the student notebook, unmodified, gets zero; and no solution line and
no hidden test reaches the student files.

Each assignment's notebook is executed twice here (solutions, then student) by Otter's own
grader, in-process (``otter.api.grade_submission``: no Docker). On 2 busy CPU cores the whole
file took 2 min 26 s (04-ablation 61 s, 05-leak-hunt 37 s, the four others 9 to 15 s each, two
notebook runs apiece), most of it the two assignments that train models.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "assignments"))

import build  # noqa: E402  (assignments/build.py: the one command that builds them)

NAMES = sorted(build.masters())
# Otter 7.0.0 calls DataFrame.drop(inplace=True), deprecated in pandas 3.1: harmless, and not ours to change
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop:Warning")
MIN_SECRET_CHARS = 16  # shorter solution lines ("return probs") could occur in a prompt by chance


def secret_lines(master: Path) -> tuple[list[str], list[str]]:
    """Distinctive lines of the master notebook that students must never see: (solution code lines,
    hidden test lines), less any line that also appears where students may see it (a public test, a
    prompt, code around a solution)."""
    solutions, hidden, public = set(), set(), set()
    for cell in json.loads(master.read_text())["cells"]:
        lines = [line.strip() for line in "".join(cell["source"]).splitlines()]
        if cell["cell_type"] != "code":
            public.update(lines)
        elif lines and re.match(r"#\s*hidden", lines[0], re.I):
            hidden.update(lines[1:])
        else:
            inside = False
            for line in lines:
                if line.startswith("# BEGIN SOLUTION"):
                    inside = True
                elif line.startswith("# END SOLUTION"):
                    inside = False
                elif inside:
                    solutions.add(line)
                elif line.endswith("# SOLUTION"):
                    solutions.add(line.rsplit("# SOLUTION", 1)[0].strip())
                else:
                    public.add(line)

    def keep(lines: set[str]) -> list[str]:
        shown = "\n".join(public)
        return sorted(line for line in lines if len(line) >= MIN_SECRET_CHARS and line not in shown)

    return keep(solutions), keep(hidden)


def notebook_text(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells)


def test_there_are_five_to_seven_assignments_each_with_one_master_notebook():
    assert 5 <= len(NAMES) <= 7, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_solutions_pass_and_the_student_version_fails_and_holds_no_solution(name, tmp_path):
    from otter.api import grade_submission

    result = build.build(name, tmp_path, run_tests=False)  # graded below, explicitly
    master = build.masters()[name]
    student, autograder = result / "student", result / "autograder"
    (autograder_zip,) = autograder.glob("*-autograder_*.zip")

    solved = grade_submission(str(autograder / master.name), str(autograder_zip), quiet=True)
    assert solved.possible > 0
    assert solved.total == solved.possible, f"{name}: the solutions fail some checks:\n{solved.summary()}"

    blank = grade_submission(str(student / master.name), str(autograder_zip), quiet=True)
    assert blank.possible == solved.possible
    assert blank.total == 0, f"{name}: the unmodified student notebook scores {blank.total}:\n{blank.summary()}"

    solutions, hidden = secret_lines(master)
    assert solutions and hidden, f"{name}: a master notebook needs solutions and hidden tests"
    answers = notebook_text(autograder / master.name)
    assert all(line in answers for line in solutions)  # the lines looked for are really the solutions
    student_files = sorted(p for p in student.rglob("*") if p.is_file())
    assert {p.relative_to(student).parts[0] for p in student_files} == {master.name, "tests"}
    shown = notebook_text(student / master.name) + "".join(p.read_text() for p in student_files if p.suffix == ".py")
    leaked = [line for line in solutions + hidden if line in shown]
    assert not leaked, f"{name}: the student files contain solution or hidden-test lines: {leaked}"
