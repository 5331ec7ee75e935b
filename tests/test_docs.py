"""Every ``>>>`` example in the library runs, and prints what it says it prints."""

import doctest
import importlib
import pkgutil
import shutil

import pytest

import wgpt_lite

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(wgpt_lite.__path__, "wgpt_lite.") if m.name != "wgpt_lite.__main__"
)
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
