"""The course assignments (assignments/, Otter-Grader). Otter Assign builds every one of them with a
wheel of the kit (assignments/build.py); then:

- the solutions notebook gets full marks from its autograder zip and the unmodified student notebook
  gets zero, graded by Otter itself, in-process (``otter.api.grade_submission``: no Docker);
- no file a student receives (the release folder, its zip, and every file inside the kit's wheel)
  holds a solution line, a hidden test or an answer of docs/answers.md, and the wheel holds the
  package alone;
- the release works without the kit's repository: its set-up cells import the kit from the wheel,
  which reads the sample clips the release carries;
- the tests grade: every wrong answer listed beside a master (``wrong_answers.py``) loses points of its
  question, the empty answer gets none of them, public tests included, every public test catches at
  least one listed wrong answer, and hidden tests carry three quarters of every question's points;
- the points agree: each notebook's header, its questions, its autograder and docs/teaching.md, where
  every hand-graded question has a rubric whose points add up to the question's.

Each assignment's notebook is executed twice by Otter (solutions, then student), and once more, in
process, to grade the wrong answers (assignments/grade_answers.py: each answer reruns only its cell
and those after it). On the kit's 2 CPU cores the file took 1 min 50 s when other jobs left them nearly
free (Otter's runs 75 s, 9 to 19 s per assignment; the wrong answers 15 s, 05-leak-hunt 6 s and
04-ablation 4 s, whose first answers train models again; the release checks 6 s and 8 s), and 7 min
22 s under a load of about 5 (the wrong answers 5 min of it: 05 212 s, 04 54 s). Since 05's q1 hidden test
trains both hybrids again and 103 wrong answers are listed (20 more, from two student reviews): 2 min 9 s
on free cores; 10 min 28 s at nice 19 beside another job that kept both cores busy, with 95 answers (05's
wrong answers 197 s, its Otter runs 123 s, 04's wrong answers 120 s, 02's 44 s).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "assignments"))

import build  # noqa: E402  (assignments/build.py: the one command that builds them)
import grade_answers  # noqa: E402  (assignments/grade_answers.py: wrong answers graded by the autograder's tests)

NAMES = sorted(build.masters())
# Otter 7.0.0 calls DataFrame.drop(inplace=True), deprecated in pandas 3.1: harmless, and not ours to change
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop:Warning")
MIN_SECRET_CHARS = 16  # shorter solution lines ("return probs") could occur in a prompt by chance
MIN_ANSWER_CHARS = 40  # a line of docs/answers.md this long is a sentence of an answer, not a heading
KIT_SOURCE = "\n".join(p.read_text() for p in sorted((ROOT / "wgpt_lite").rglob("*.py")))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build.kit_wheel(tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def built(wheel, tmp_path_factory):
    """name -> its output folder (student/, autograder/, the zip), each assignment built once per module."""
    out, done = tmp_path_factory.mktemp("dist"), {}

    def get(name: str) -> Path:
        if name not in done:
            done[name] = build.build(name, out, wheel, run_tests=False)  # graded below, explicitly
        return done[name]

    return get


def secret_lines(master: Path) -> tuple[list[str], list[str]]:
    """Distinctive lines of the master notebook that students must never see: (solution code lines,
    hidden test lines), less any line that also appears where students may see it (a public test, a
    prompt, code around a solution, the kit's own source, which they receive)."""
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
        shown = "\n".join(public) + KIT_SOURCE
        return sorted(line for line in lines if len(line) >= MIN_SECRET_CHARS and line not in shown)

    return keep(solutions), keep(hidden)


def answer_lines() -> list[str]:
    """The sentences of docs/answers.md (the notebooks' answers, for instructors only)."""
    lines = (line.strip() for line in (ROOT / "docs" / "answers.md").read_text().splitlines())
    return [line for line in lines if len(line) >= MIN_ANSWER_CHARS]


def notebook_text(path: Path) -> str:
    return cells_text(path.read_bytes())


def cells_text(data: bytes) -> str:
    return "\n".join("".join(cell["source"]) for cell in json.loads(data)["cells"])


def readable(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """(name, text) of a file and, for a zip or a wheel, of every file inside it, recursively; a
    notebook's text is its cells' sources; binary files (audio, weights) give nothing."""
    if name.endswith((".zip", ".whl")):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                yield from readable(f"{name}!{member}", archive.read(member))
        return
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return
    yield name, cells_text(data) if name.endswith(".ipynb") else text


def test_there_are_five_to_seven_assignments_each_with_one_master_notebook():
    assert 5 <= len(NAMES) <= 7, NAMES


def test_the_kit_wheel_holds_the_package_alone(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    info = f"wgpt_lite-{wheel.name.split('-')[1]}.dist-info/"
    assert all(n.startswith(("wgpt_lite/", info)) for n in names), sorted(n for n in names if "/" not in n)
    package = {p.relative_to(ROOT).as_posix() for p in (ROOT / "wgpt_lite").rglob("*.py")}
    assert package <= names, f"modules missing from the wheel: {sorted(package - names)}"
    assert {"wgpt_lite/weights/codec-24khz.pt", "wgpt_lite/infra/system_packages.txt"} <= names


def test_the_wheels_metadata_names_no_solution_and_no_repository(wheel):
    """The wheel's METADATA carries its README (the long description), which students can read: the
    student README build.py gives it, not the repository's, which points at the masters and the answers."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    assert build.STUDENT_README.strip() in text
    for word in ("answers.md", "solution", "master", "hidden", "github", "colab.research", "OWNER"):
        assert word.lower() not in text.lower(), f"the wheel's METADATA names {word!r}"


@pytest.mark.parametrize("name", NAMES)
def test_solutions_get_full_marks_and_the_unmodified_student_notebook_zero(name, built):
    from otter.api import grade_submission

    result, master = built(name), build.masters()[name]
    student, autograder = result / "student", result / "autograder"
    (autograder_zip,) = autograder.glob("*-autograder_*.zip")

    solved = grade_submission(str(autograder / master.name), str(autograder_zip), quiet=True)
    assert solved.possible > 0
    assert solved.total == solved.possible, f"{name}: the solutions fail some checks:\n{solved.summary()}"

    blank = grade_submission(str(student / master.name), str(autograder_zip), quiet=True)
    assert blank.possible == solved.possible
    assert blank.total == 0, f"{name}: the unmodified student notebook scores {blank.total}:\n{blank.summary()}"


@pytest.mark.parametrize("name", NAMES)
def test_no_file_a_student_receives_holds_a_solution_a_hidden_test_or_an_answer(name, built, wheel):
    result, master = built(name), build.masters()[name]
    student = result / "student"
    solutions, hidden = secret_lines(master)
    assert solutions and hidden, f"{name}: a master notebook needs solutions and hidden tests"
    answers = notebook_text(result / "autograder" / master.name)
    assert all(line in answers for line in solutions)  # the lines looked for are really the solutions
    secrets = {line for other in build.masters().values() for line in sum(secret_lines(other), [])}
    secrets |= set(answer_lines())

    files = sorted(p for p in student.rglob("*") if p.is_file())
    assert {p.relative_to(student).parts[0] for p in files} == {master.name, "tests", "data", wheel.name}
    with zipfile.ZipFile(result / f"{name}-student.zip") as bundle:  # one folder, named as the assignment
        assert sorted(bundle.namelist()) == sorted(f"{name}/{p.relative_to(student).as_posix()}" for p in files)
    texts = [text for p in [*files, result / f"{name}-student.zip"] for text in readable(p.name, p.read_bytes())]
    assert any(n.endswith(".whl!wgpt_lite/model.py") for n, _ in texts), "the wheel's files are read too"
    leaked = sorted({(n, line) for n, text in texts for line in secrets if line in text})
    assert not leaked, f"{name}: files a student receives hold solution, hidden-test or answer lines: {leaked}"


def test_the_release_runs_without_the_kit_repository(built, wheel, tmp_path):
    """Every student folder's set-up cell, run where only the release is (the kit's wheel unpacked on the
    path, no clone), imports the kit from the wheel, finds its tests and reads the sample it carries."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    folders = [shutil.copytree(built(name) / "student", tmp_path / name) for name in NAMES]
    script = r"""
import json, os, sys
for folder in sys.argv[1:]:
    os.chdir(folder)
    (notebook,) = [n for n in os.listdir() if n.endswith(".ipynb")]
    cells = json.load(open(notebook))["cells"]
    setup = next("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    namespace = {}
    exec(setup, namespace)
    import wgpt_lite as wl
    from wgpt_lite.infra.settings import in_clone
    rows = wl.read_manifest("sample-speech", "train")
    print(json.dumps({"kit": wl.__file__, "clone": in_clone(), "grader": "grader" in namespace, "rows": len(rows)}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), WGPT_HOME=str(tmp_path / "home"), WGPT_OFFLINE="1")
    ran = subprocess.run([sys.executable, "-c", script, *map(str, folders)], env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-3000:]
    reports = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == len(NAMES)
    for report in reports:
        assert report == {"kit": str(site / "wgpt_lite" / "__init__.py"), "clone": False, "grader": True, "rows": 2}


def test_the_set_up_cell_installs_the_kit_from_the_uploaded_zip_or_stops_in_one_line(built, tmp_path):
    """Colab's path, offline: a new environment that has the kit's dependencies but not the kit, and a folder
    holding the notebook alone, then with the release's zip beside it (and the student's saved work, which
    the zip must not overwrite); then with a damaged wheel."""
    site = Path(sysconfig.get_paths()["purelib"])
    mirror = tmp_path / "dependencies"  # this environment's packages less the kit (and the .pth hooks that add it)
    mirror.mkdir()
    for entry in site.iterdir():
        if not entry.name.startswith(("wgpt_lite", "__editable__")) and entry.suffix != ".pth":
            (mirror / entry.name).symlink_to(entry)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    )
    (Path(purelib.stdout.strip()) / "dependencies.pth").write_text(str(mirror))
    release = built("06-sampling")
    folder = tmp_path / "content"
    folder.mkdir()
    shutil.copy(release / "student" / "sampling.ipynb", folder)
    setup = next(c for c in json.loads((folder / "sampling.ipynb").read_text())["cells"] if c["cell_type"] == "code")
    script = "import json; exec(json.load(open('setup.json'))); import wgpt_lite; print('kit:', wgpt_lite.__file__)"
    (folder / "setup.json").write_text(json.dumps("".join(setup["source"])))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PIP_NO_INDEX="1", WGPT_OFFLINE="1")

    def run_setup() -> subprocess.CompletedProcess:
        return subprocess.run([python, "-c", script], cwd=folder, env=env, capture_output=True, text=True)

    alone = run_setup()
    assert alone.returncode and alone.stderr.strip().splitlines()[-1] == (
        "FileNotFoundError: no wgpt_lite-*.whl beside this notebook: upload 06-sampling-student.zip to the Files pane"
    )
    shutil.copy(release / "06-sampling-student.zip", folder)
    saved = {"sampling.ipynb": '{"cells": [], "saved": "the student\'s work"}', "tests/q1.py": "# edited\n"}
    for path, text in saved.items():
        (folder / path).parent.mkdir(exist_ok=True)
        (folder / path).write_text(text)
    installed = run_setup()
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert installed.stdout.splitlines()[-1] == f"kit: {Path(purelib.stdout.strip()) / 'wgpt_lite' / '__init__.py'}"
    assert {path: (folder / path).read_text() for path in saved} == saved, "the zip overwrote saved work"
    (wheel,) = folder.glob("wgpt_lite-*.whl")  # unpacked from the zip
    unpacked = {p.relative_to(folder).parts[0] for p in folder.rglob("*") if p.is_file()} - {".OTTER_LOG"}
    assert unpacked == {"sampling.ipynb", "setup.json", "06-sampling-student.zip", "tests", "data", wheel.name}
    assert (folder / "tests" / "q2.py").is_file() and (folder / "data" / "sample").is_dir()

    subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", "wgpt_lite"], check=True, env=env)
    wheel.write_bytes(wheel.read_bytes()[:1000])  # a download cut short
    (folder / "06-sampling-student.zip").unlink()
    broken = run_setup()
    assert broken.returncode and re.fullmatch(
        rf"RuntimeError: pip could not install {wheel.name}: ERROR: .+", broken.stderr.strip().splitlines()[-1]
    )


WRONG_ANSWERS_OF_ISSUE_24 = {  # mistakes the tests missed before: each must stay listed, and so lose points
    ("02-fusion", "q3"): "the model built and counted, although the prompt says not to",
    ("05-leak-hunt", "q4"): "positions 0..t-1 compared (the batch axis kept, then [:, :t])",
}
WRONG_ANSWERS_OF_THE_STUDENT_REVIEW = {  # answers a student reviewer graded with full marks, before the fix
    ("02-fusion", "q2"): ["the kit's model.embed called, although the prompt says not to"],
    ("02-fusion", "q3"): [
        "a table of num_params() for the presets' configs (vocabulary as preset and 128), built outside",
        "n_mels taken as 64, the kit's default",
    ],
    ("02-fusion", "q4"): [
        "position t alone compared, not 0..t",
        "a constant keyed on the model's class (0.0 for the kit's models, 1.0 for others)",
        "the mean change, a tensor, not the largest as a float",
    ],
    ("05-leak-hunt", "q1"): ["the causal hybrid trained for 20 steps, not as many as the other"],
    ("05-leak-hunt", "q4"): [
        "position t alone compared, not 0..t",
        "a constant keyed on the front end (0.0 for wl.log_mel itself, 1.0 for any other)",
        "always 0.0",
        "perturb_future called but its result unused (it returns a copy)",
    ],
}
CAUGHT_BY_THE_PUBLIC_TEST = {  # the reviewer's "All test cases passed!" for these: the public test must fail them
    ("05-leak-hunt", "q4"): ["always 0.0", "perturb_future called but its result unused (it returns a copy)"],
}


@pytest.mark.parametrize("name", NAMES)
def test_every_wrong_answer_loses_points_the_empty_one_gets_none_and_public_tests_check_values(name, built, tmp_path):
    result = built(name)
    graded = grade_answers.grade_answers(name, result / "autograder", result / "student", tmp_path)
    report = f"{name}:\n" + "\n".join(g.line() for g in graded)
    for (assignment, question), answer in WRONG_ANSWERS_OF_ISSUE_24.items():
        assert assignment != name or answer in grade_answers.wrong_answers(name)[question], (question, answer)
    for (assignment, question), answers in WRONG_ANSWERS_OF_THE_STUDENT_REVIEW.items():
        for answer in answers if assignment == name else []:
            assert answer in grade_answers.wrong_answers(name)[question], (question, answer)
    by_question = {}
    for g in graded:
        by_question.setdefault(g.question, []).append(g)
        if g.answer == grade_answers.SOLUTION:
            assert g.score == g.possible, report
        elif g.answer == grade_answers.EMPTY:
            assert g.score == 0 and g.public_score == 0, report
        else:
            assert g.score < g.possible, report
            if g.answer in CAUGHT_BY_THE_PUBLIC_TEST.get((name, g.question), []):
                assert g.public_score < g.public_possible, report
    for question, answers in by_question.items():
        wrong = [g for g in answers if g.answer not in (grade_answers.SOLUTION, grade_answers.EMPTY)]
        assert wrong, f"{name} {question}: no wrong answer listed"
        caught = [g for g in wrong if g.public_score < g.public_possible]
        assert caught, f"{name} {question}: the public test passes every listed wrong answer\n{report}"


POINTS_LINE = (  # "**Points**: 10, all checked automatically." or "**Points**: 12: 9 checked automatically, 3 for ..."
    r"\*\*Points\*\*: (\d+)"
    r"(?:, all checked automatically|: (\d+) checked automatically, (\d+) for [^(]*\(graded by hand\))"
)


def declared_points(master: Path) -> tuple[int, int, int]:
    """(total, automatic, by hand) as the notebook's header states them."""
    header = notebook_text(master)
    found = re.search(POINTS_LINE, header)
    assert found, f"{master.name}: no **Points** line in the header"
    total = int(found[1])
    return (total, total, 0) if found[2] is None else (total, int(found[2]), int(found[3]))


def question_configs(master: Path) -> dict[str, dict]:
    """Question name -> its ``# BEGIN QUESTION`` config (name, points, manual)."""
    import yaml

    configs = {}
    for cell in json.loads(master.read_text())["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "raw" and text.startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(text.split("\n", 1)[1])
            configs[config["name"]] = config
    return configs


def teaching_row(name: str) -> list[str]:
    """The cells of the assignment's row in docs/teaching.md's table of assignments."""
    (row,) = [line for line in (ROOT / "docs" / "teaching.md").read_text().splitlines() if f"| [`{name}`]" in line]
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


@pytest.mark.parametrize("name", NAMES)
def test_points_agree_in_the_header_the_questions_the_autograder_and_the_docs(name, built):
    from otter.test_files import OKTestFile

    master = build.masters()[name]
    total, automatic, by_hand = declared_points(master)
    assert total == automatic + by_hand
    configs = question_configs(master)
    points = {q: sum(c["points"]) if isinstance(c["points"], list) else c["points"] for q, c in configs.items()}
    assert sum(points.values()) == total, f"{name}: the questions add up to {sum(points.values())}, the header {total}"
    manual = {q for q, c in configs.items() if c.get("manual")}
    assert sum(points[q] for q in manual) == by_hand

    tests = {p.stem: OKTestFile.from_file(str(p)) for p in sorted((built(name) / "autograder" / "tests").glob("q*.py"))}
    assert set(tests) == set(configs) - manual
    assert sum(t.possible for t in tests.values()) == automatic, f"{name}: the autograder's maximum"
    for question, test in tests.items():
        public = sum(case.points for case in test.test_cases if not case.hidden)
        assert test.possible == points[question] and public <= test.possible / 4, (question, public, test.possible)

    cell = teaching_row(name)[3]
    assert cell == (f"{total}" if not by_hand else f"{automatic} auto + {by_hand} by hand"), f"teaching.md: {cell}"


def test_every_hand_graded_question_has_a_rubric_worth_its_points():
    teaching = (ROOT / "docs" / "teaching.md").read_text()
    for name, master in build.masters().items():
        for question, config in question_configs(master).items():
            if not config.get("manual"):
                continue
            heading = re.search(rf"^### {name} {question} · .+ \((\d+) points\)$", teaching, re.M)
            assert heading and int(heading[1]) == config["points"], f"teaching.md: no rubric for {name} {question}"
            table = teaching[heading.end() :].split("\n\n", 2)[1]
            rows = [line.split("|")[1].strip() for line in table.splitlines()[2:]]
            assert sum(float(points) for points in rows) == config["points"], (name, question, rows)


def test_the_set_up_cell_installs_the_kit_the_same_way_in_every_assignment():
    blocks = set()
    for name, master in build.masters().items():
        setup = next(c for c in json.loads(master.read_text())["cells"] if c["cell_type"] == "code")
        text = "".join(setup["source"]).replace(name, "<nn-name>")  # the zip's name and its folder's
        block = re.search(
            r"^if importlib\.util\.find_spec\('wgpt_lite'\) is None:.*?\n(?=\S)", text.replace('"', "'"), re.M | re.S
        )
        blocks.add(block[0])
    assert len(blocks) == 1, blocks
