"""What the notebooks say, checked as text: the one Colab cell, and the course scaffolding."""

from pathlib import Path

import nbformat
import pytest

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
