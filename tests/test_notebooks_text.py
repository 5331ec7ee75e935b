"""What the notebooks say, checked as text: the one Colab cell, the course scaffolding, prose that states only
numbers the outputs show, and outputs that name a committed version and no path of the machine that made them."""

import math
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from wgpt_lite.experiment.results import CLAIMS, PAPER_RESULTS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
COLAB_CELL = (NOTEBOOKS / "colab_cell.py").read_text().rstrip("\n")
ALL = [f"{n:02d}" for n in range(7)]
SCAFFOLDED = ALL


def notebook(number: str):
    (path,) = NOTEBOOKS.glob(f"{number}_*.ipynb")
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("number", ALL)
def test_cell_1_of_every_notebook_is_the_colab_cell(number):
    cell = notebook(number).cells[1]
    assert cell.cell_type == "code"
    assert cell.source == COLAB_CELL, f"notebook {number}: paste notebooks/colab_cell.py into cell 1"


def test_the_colab_cell_shows_failures_and_stops_on_the_placeholder():
    assert "2>/dev/null" not in COLAB_CELL and "|| true" not in COLAB_CELL
    assert 'REPO_URL = "https://github.com/OWNER/wgpt_lite"' in COLAB_CELL
    assert 'if "/OWNER/" in REPO_URL:\n        raise SystemExit(' in COLAB_CELL
    assert '"-m", "wgpt_lite", "setup"' in COLAB_CELL


@pytest.mark.parametrize("number", SCAFFOLDED)
def test_each_notebook_opens_with_objectives_and_time_and_closes_with_a_summary_and_references(number):
    cells = notebook(number).cells
    top = cells[0].source
    assert "Learning objectives" in top and "Time" in top and "Colab" in top, number
    bottom = "\n".join(cell.source for cell in cells[-3:] if cell.cell_type == "markdown")
    assert "## Summary" in bottom and "## References" in bottom, number
    for link in ("arxiv.org/abs/2412.11449", "arxiv.org/abs/2210.13438", "arxiv.org/abs/2212.04356"):
        assert link in bottom, (number, link)
    assert "## Questions" in bottom, number


def test_the_answers_for_instructors_are_kept_out_of_the_notebooks():
    answers = (ROOT / "docs" / "answers.md").read_text()
    for number in SCAFFOLDED:
        assert f"\n## {number}" in answers
    for number in SCAFFOLDED:
        text = "\n".join(cell.source for cell in notebook(number).cells)
        assert "**Answer" not in text and "## Answers" not in text, number


@pytest.mark.parametrize("number", ALL)
def test_each_committed_notebook_stays_under_3_mb(number):
    (path,) = NOTEBOOKS.glob(f"{number}_*.ipynb")
    assert path.stat().st_size <= 3 * 2**20, (
        f"{path.name}: {path.stat().st_size / 2**20:.1f} MB; shrink its figures or audio"
    )


# ---------------------------------------------------------------------------
# Every number the prose states is one the outputs show (or the paper's, or a constant)

# Numbers in the prose that are not measured, so no output need show them. Everything else a
# Markdown cell states as a decimal, a percentage or a time must be printed by the notebook:
# a re-run changes outputs, and prose that copies them goes stale.
CONSTANTS = {
    "6.8 s": "the paper's context: 512 frames at 75 frames a second (6.83 s)",
    "13 ms": "one hop, 320 samples at 24 kHz (13.33 ms): the frame grid, fixed",
    "13.3 ms": "the same hop, to one decimal",
    "13.33 ms": "the same hop, to two decimals",
    "42.7 ms": "the mel window, 1024 samples at 24 kHz: fixed by the front end",
    "8%": "the paper's hybrid over its GPT-S, 4.0M against 3.7M parameters",
}


def paper_numbers() -> set[str]:
    """The paper's Tables 1-2 as the kit holds them (wgpt_lite.experiment.results.PAPER_RESULTS): its NLL,
    accuracy, PPL, exp(NLL), parameter counts and the differences between its models. A notebook may quote
    them without printing them: they are the paper's, and no re-run changes them."""
    numbers = set()
    for table in PAPER_RESULTS.values():
        for row in table.values():
            numbers |= {f"{row['nll']:.2f}", f"{row['ppl']:.2f}", f"{math.exp(row['nll']):.2f}"}
            numbers |= {f"{100 * row['acc']:.2f}%", f"{row['params'] / 1e6:.1f}", f"{row['params'] / 1e6:g}"}
        for first, second in CLAIMS:
            numbers.add(f"{abs(table[first]['nll'] - table[second]['nll']):.2f}")
    return numbers


TIME_UNITS = {"ms": "ms", "s": "s", "sec": "s", "second": "s", "seconds": "s", "min": "min", "minute": "min",
              "minutes": "min", "h": "h", "hour": "h", "hours": "h"}  # fmt: skip


def prose(source: str) -> str:
    """A Markdown cell without what is not prose: code blocks, inline code, link targets, arXiv ids."""
    source = re.sub(r"```.*?```", " ", source, flags=re.S)
    source = re.sub(r"`[^`]*`", " ", source)
    source = re.sub(r"\]\([^)]*\)", "]", source)
    return re.sub(r"arXiv:\d+\.\d+", " ", source)


def claims(text: str) -> list[str]:
    """The numbers a text states, each as ``12.3``, ``12.3%`` or ``12.3 min`` (units made one spelling)."""
    found = []
    for match in re.finditer(r"(?<![\w.,])(\d+(?:\.\d+)?)(\s?%|\s?(?:ms|s|sec|seconds?|min|minutes?|h|hours?)\b)?",
                             text):  # fmt: skip
        number, unit = match.group(1), (match.group(2) or "").strip()
        if unit == "%":
            found.append(f"{number}%")
        elif unit:
            if re.match(r"\s+of\s+(reading|listening)", text[match.end() :]):
                continue  # the reader's time: an estimate, not a measurement
            found.append(f"{number} {TIME_UNITS[unit]}")
        elif "." in number:
            found.append(number)
    return found


def output_text(cell) -> str:
    """What a code cell printed or displayed, as text (no images, no HTML)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            data = output.get("data", {})
            parts.append(data.get("text/markdown") or data.get("text/plain") or "")
        elif output.output_type == "error":
            parts.append(" ".join(output.get("traceback", [])))
    return "\n".join(parts).replace("−", "-")


def shown(claim: str, outputs: str) -> bool:
    """Whether ``claim`` (as ``claims`` spells it) is in ``outputs``, as a whole number with the same unit."""
    number, _, unit = claim.rstrip("%").partition(" ")
    if claim.endswith("%"):
        tail = r"\s?%"
    elif unit:
        tail = r"\s?(?:" + "|".join(u for u, same in TIME_UNITS.items() if same == unit) + r")\b"
    else:
        tail = r"(?![\d])"
    return re.search(r"(?<![\d.])" + re.escape(number) + tail, outputs) is not None


def unsupported_numbers(nb) -> list[tuple[int, str]]:
    """``(cell index, number)`` for each number a Markdown cell states that no output of the notebook shows
    and that is neither the paper's nor one of ``CONSTANTS``."""
    outputs = "\n".join(output_text(cell) for cell in nb.cells if cell.cell_type == "code")
    allowed = paper_numbers() | set(CONSTANTS)
    return [
        (index, claim)
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for claim in claims(prose(cell.source))
        if claim not in allowed and not shown(claim, outputs)
    ]


def unexecuted_cells(nb) -> list[int]:
    """Code cells with no execution count: changed since the notebook last ran, their outputs cleared."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.get("execution_count") is None]


@pytest.mark.parametrize("number", ALL)
def test_every_number_the_prose_states_is_in_the_outputs(number):
    nb = notebook(number)
    missing = unsupported_numbers(nb)
    unexecuted = unexecuted_cells(nb)
    if unexecuted and missing:  # strict once every code cell has run (the committed, re-run notebook)
        pytest.skip(f"notebook {number}: cells {unexecuted} have not run since they changed; re-run it ({missing})")
    assert not missing, (
        f"notebook {number}: the prose states numbers no output shows (cell, number): {missing}; print them "
        "from the cell that measures them, or say it without the number"
    )


def test_the_number_check_catches_a_stale_sentence_and_passes_a_printed_one():
    stale = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("About 45 minutes of reading. At most 21 min; GPT-L is 0.64 s a step."),
            nbformat.v4.new_code_cell(
                "print(line)",
                execution_count=1,
                outputs=[nbformat.v4.new_output("stream", text="preset mini: at most 18 min, 0.64 s a step\n")],
            ),
            nbformat.v4.new_markdown_cell("The paper's hybrid: 1.93 nats/token, 35.05%; 84% of frames; 4.40–4.50."),
        ]
    )
    assert unsupported_numbers(stale) == [(0, "21 min"), (2, "84%"), (2, "4.40"), (2, "4.50")]
    assert unexecuted_cells(stale) == []
    stale.cells[1].execution_count = None  # changed since it ran: the check waits for the re-run
    assert unexecuted_cells(stale) == [1]


# Where a path of the machine that ran a notebook would show: /home/..., /tmp/..., C:\... (a path the kit
# prints is relative, or starts at <clone> or ~).
MACHINE_PATH = re.compile(r"(?<![\w.~>:/\\-])/[\w.-]+/[\w.-]+|\b[A-Z]:\\")


@pytest.mark.parametrize("number", ALL)
def test_the_outputs_name_a_committed_version_and_no_path_of_the_machine(number):
    nb = notebook(number)
    text = "\n".join(output_text(cell) for cell in nb.cells if cell.cell_type == "code")
    assert "uncommitted changes" not in text, f"notebook {number}: re-run it from a committed version of the kit"
    assert not MACHINE_PATH.search(text), f"notebook {number}: an output shows {MACHINE_PATH.search(text)[0]!r}"
    commits = set(re.findall(r"\bcommit ([0-9a-f]{7,40})\b", text))
    git = ["git", "-C", str(ROOT)]
    if commits and (ROOT / ".git").exists():
        shallow = subprocess.run([*git, "rev-parse", "--is-shallow-repository"], capture_output=True, text=True)
        if shallow.returncode != 0 or shallow.stdout.strip() == "true":
            return  # a shallow clone (Colab's) or no git: the commits cannot all be looked up
        unknown = [
            c
            for c in commits
            if subprocess.run([*git, "cat-file", "-e", f"{c}^{{commit}}"], capture_output=True).returncode
        ]
        assert not unknown, f"notebook {number}: its outputs name commits this repository does not hold: {unknown}"


def test_the_path_check_tells_a_machine_path_from_the_paths_the_kit_prints():
    for machine in ("/home/me/wgpt_lite/results", "saved in /tmp/x/y", r"C:\Users\me"):
        assert MACHINE_PATH.search(machine), machine
    for kit in ("../results/mini-codec", "<clone>/results/mini-codec", "~/.cache/wgpt_lite", "n_fft/2 + 1",
                "https://github.com/OWNER/wgpt_lite", "mini-speech/train"):  # fmt: skip
        assert not MACHINE_PATH.search(kit), kit
