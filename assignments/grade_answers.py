"""Grade the wrong answers listed beside each master notebook with the autograder's own tests.

    python assignments/grade_answers.py               # every assignment: one line per answer
    python assignments/grade_answers.py 05-leak-hunt  # one of them

``assignments/<nn-name>/wrong_answers.py`` defines ``WRONG_ANSWERS``: question -> {what the student got
wrong: the answer}, an answer being the question's solution cell with some of its text replaced
(``{solution text: wrong text}``, each solution text found exactly once) or a whole cell (a string).
Every question is also tried with the empty answer (its cell as the student notebook hands it out) and,
last, with the solution itself. ``tests/test_assignments.py`` requires every wrong answer to lose points
of its question, the empty one to get none, and the solution all of them.

Why not ``otter run`` per answer: it executes the whole notebook each time, and 03, 04 and 05 train
models for tens of seconds in every run. Here the solutions notebook that Otter Assign made runs once,
cell by cell, in this process, and each answer runs from the state just before its question's answer
cell: a copy of the namespace (deep), of the working folder and of the random generators. From there
it runs as in the notebook: its cell in place of the solution's, then the rest of the notebook (Otter
grades against the final namespace), and then the question's test file from the autograder folder,
public and hidden cases, is run on that namespace by Otter's own runner (``OKTestFile``), as Otter's
grading does. An error in a cell is kept and the next cells run, as in Otter's execution. The
``grader.check`` and export cells are skipped: tests do not change what later cells and tests rely on
(a rule of docs/teaching.md, which Otter's grading of the solutions in ``make test`` enforces), so
running them there too, as Otter does, would change no grade. The solution goes last, on the state
itself: it carries the notebook to the next question's answer cell, where that question's state is
copied, then on to the end, and must get full marks: the control. So every cell runs once more per
answer before it, which costs little but for the answers to 04's and 05's first questions, which
train their models again.

What a deep copy cannot copy (modules, functions, classes) is shared, and functions defined before the
answer still read the namespace they were defined in. Either could hide a mistake; neither could invent
one that the control, run from a copy as well from the second question on, would not show.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import random
import re
import runpy
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
EMPTY = "empty answer (the cell as handed out)"
SOLUTION = "the solution (control)"
CHECK_CELL = re.compile(r'grader\.check\("(\w+)"\)')


@dataclass
class Graded:
    """One answer to one question, graded by the question's test file."""

    question: str
    answer: str  # what the student got wrong, or EMPTY, or SOLUTION
    score: float
    public_score: float
    possible: float
    public_possible: float
    seconds: float
    error: str  # the first exception a cell raised, "" if none

    def line(self) -> str:
        error = f"  [{self.error}]" if self.error else ""
        return (
            f"{self.question}  {self.score:g}/{self.possible:g} (public {self.public_score:g}/{self.public_possible:g})"
            f"  {self.seconds:5.1f} s  {self.answer}{error}"
        )


def wrong_answers(name: str) -> dict[str, dict[str, str | dict[str, str]]]:
    """``WRONG_ANSWERS`` of ``assignments/<name>/wrong_answers.py``."""
    return runpy.run_path(str(HERE / name / "wrong_answers.py"))["WRONG_ANSWERS"]


def answer_cells(notebook: dict) -> dict[str, int]:
    """Question -> index of its answer cell: the tagged code cell before its ``grader.check`` cell."""
    found, pending = {}, []
    for index, cell in enumerate(notebook["cells"]):
        tags = cell["metadata"].get("tags", [])
        if cell["cell_type"] != "code":
            continue
        if {"otter_assign_solution_cell", "otter_answer_cell"} & set(tags):
            pending.append(index)
        elif match := CHECK_CELL.search(source(cell)):
            if len(pending) != 1:
                raise ValueError(f"question {match[1]}: expected one answer cell, found {len(pending)}")
            found[match[1]], pending = pending[0], []
    return found


def source(cell: dict) -> str:
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def apply(solution: str, answer: str | dict[str, str], label: str) -> str:
    """The answer cell's text: ``answer`` itself, or ``solution`` with each of its replacements made."""
    if isinstance(answer, str):
        return answer
    for old, new in answer.items():
        if solution.count(old) != 1:
            raise ValueError(f"{label}: {old!r} occurs {solution.count(old)} times in the solution cell, not once")
        solution = solution.replace(old, new)
    return solution


def graded_by_otter_only(cell: dict) -> bool:
    """The ``grader.check``/``grader.export`` cells Otter adds: no state of the notebook comes from them."""
    lines = [line for line in source(cell).splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return bool(lines) and all(line.startswith("grader.") for line in lines)


def run_cells(cells: list[tuple[int, str]], namespace: dict) -> str:
    """Execute cells in ``namespace``, output swallowed; each error is kept and the next cell runs.
    Returns the first error, in one line."""
    first = ""
    for number, text in cells:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                exec(compile(text, f"<cell {number}>", "exec"), namespace)
            except Exception as error:  # a student's cell may raise anything; Otter's execution goes on too
                first = first or f"cell {number}: {type(error).__name__}: {error}".splitlines()[0]
    return first


def random_state() -> tuple:
    import numpy
    import torch

    return torch.get_rng_state(), random.getstate(), numpy.random.get_state()


def set_random_state(state: tuple) -> None:
    import numpy
    import torch

    torch.set_rng_state(state[0])
    random.setstate(state[1])
    numpy.random.set_state(state[2])


def copied(namespace: dict) -> dict:
    """A deep copy of the namespace, one memo for all values (so shared objects stay shared); what
    cannot be copied (modules, open handles) is shared with the original."""
    memo, result = {}, {}
    for key, value in namespace.items():
        try:
            result[key] = copy.deepcopy(value, memo)
        except Exception:  # whatever deepcopy refuses is kept as is
            result[key] = value
    return result


@dataclass
class State:
    """Where the notebook stands: its namespace, its working folder and the random generators."""

    namespace: dict
    folder: Path
    generators: tuple

    def copy(self, folder: Path) -> State:
        shutil.copytree(self.folder, folder)
        return State(copied(self.namespace), folder, self.generators)

    def run(self, cells: list[tuple[int, str]]) -> str:
        """Run cells from here, in the working folder; returns the first error, in one line."""
        os.chdir(self.folder)
        set_random_state(self.generators)
        error = run_cells(cells, self.namespace)
        self.generators = random_state()
        return error

    def grade(self, question: str) -> tuple[float, float, float, float]:
        return grade(self.namespace, self.folder / "tests" / f"{question}.py")


def grade(namespace: dict, test_file: Path) -> tuple[float, float, float, float]:
    """(score, public score, possible, public possible) of one question's test file on ``namespace``."""
    from otter.test_files import OKTestFile

    tests = OKTestFile.from_file(str(test_file))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        tests.run(namespace)
    public = [r for r in tests.test_case_results if not r.test_case.hidden]
    return (
        tests.score,
        sum(r.test_case.points for r in public if r.passed),
        tests.possible,
        sum(r.test_case.points for r in public),
    )


def grade_answers(name: str, autograder: Path, student: Path, work: Path) -> list[Graded]:
    """Grade the empty answer, every listed wrong answer and the solution of each question of ``name``.

    ``autograder`` and ``student``: the folders ``build.build`` wrote; ``work``: an empty folder for the
    working folders. The solution of each question runs last and in place: it carries the notebook to
    the next question's answer cell, where that question's state is copied, and then to the end."""
    (notebook_path,) = autograder.glob("*.ipynb")
    notebook = json.loads(notebook_path.read_text())
    handed_out = json.loads((student / notebook_path.name).read_text())
    listed = wrong_answers(name)
    questions = sorted(answer_cells(notebook).items(), key=lambda item: item[1])
    empty = {q: source(handed_out["cells"][i]) for q, i in answer_cells(handed_out).items()}
    if set(listed) != {q for q, _ in questions}:
        raise ValueError(f"{name}: wrong answers listed for {sorted(listed)}, questions graded {sorted(empty)}")
    cells = [
        (i, source(c))
        for i, c in enumerate(notebook["cells"])
        if c["cell_type"] == "code" and not graded_by_otter_only(c)
    ]
    starts = [n for n, (index, _) in enumerate(cells) for _, answer in questions if index == answer] + [len(cells)]

    def new_folder() -> Path:
        return Path(tempfile.mkdtemp(dir=work)) / "notebook"

    home, results = Path.cwd(), []
    state = State({}, new_folder(), random_state())
    shutil.copytree(autograder, state.folder)
    try:
        state.run(cells[: starts[0]])
        for k, (question, index) in enumerate(questions):
            solution = cells[starts[k]][1]
            answers = {
                what: apply(solution, how, f"{name} {question} {what!r}") for what, how in listed[question].items()
            }
            for what, text in {EMPTY: empty[question], **answers}.items():
                trial, start = state.copy(new_folder()), time.perf_counter()
                error = trial.run([(index, text), *cells[starts[k] + 1 :]])
                results.append(Graded(question, what, *trial.grade(question), time.perf_counter() - start, error))
                shutil.rmtree(trial.folder.parent)
            start = time.perf_counter()
            error = state.run(cells[starts[k] : starts[k + 1]])
            following = state.copy(new_folder()) if k + 1 < len(questions) else None
            rest = state.run(cells[starts[k + 1] :])
            error = error or rest
            results.append(Graded(question, SOLUTION, *state.grade(question), time.perf_counter() - start, error))
            shutil.rmtree(state.folder.parent)
            state = following
    finally:
        os.chdir(home)
    return results


def main(argv: list[str] | None = None) -> int:
    import build

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="assignment folders (default: all), e.g. 05-leak-hunt")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build.kit_wheel(Path(tmp) / "kit")
        for name in args.names or build.masters():
            result = build.build(name, Path(tmp) / "dist", wheel, run_tests=False)
            work = Path(tempfile.mkdtemp(dir=tmp))
            print(f"== {name}", flush=True)
            for graded in grade_answers(name, result / "autograder", result / "student", work):
                print("   " + graded.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
