"""Every ``>>>`` example in the library runs, and prints what it says it prints; every link between the
project's Markdown files leads somewhere."""

import doctest
import importlib
import pkgutil
import re
import shutil
from pathlib import Path

import pytest

import wgpt_lite

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(wgpt_lite.__path__, "wgpt_lite.") if m.name != "wgpt_lite.__main__"
)
ROOT = Path(__file__).resolve().parent.parent
NEEDS_TOOLS = {"wgpt_lite.data.builders.speech": "bible"}  # the example reads the Bible text of Debian's bible-kjv


@pytest.mark.parametrize("name", ["wgpt_lite", *MODULES])
def test_docstring_examples_run_and_are_true(name, monkeypatch, tmp_path):
    tool = NEEDS_TOOLS.get(name)
    if tool and not shutil.which(tool):
        pytest.skip(f"{tool} is not installed (wgpt_lite/infra/system_packages.txt)")
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} docstring example(s) of {name} failed (printed above)"


def test_relative_links_in_the_markdown_files_lead_to_files_that_exist():
    """README, CONTRIBUTING, data/README and docs/: an instructor following docs/course.md lands on real files."""
    documents = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "data" / "README.md"]
    documents += sorted((ROOT / "docs").glob("*.md"))
    broken = []
    for document in documents:
        for link in re.findall(r"\]\(([^)\s]+)\)", document.read_text()):
            if re.match(r"[a-z]+:", link) or link.startswith("#"):  # web addresses, anchors in the same file
                continue
            if not (document.parent / link.split("#")[0]).exists():
                broken.append(f"{document.relative_to(ROOT)}: {link}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)
