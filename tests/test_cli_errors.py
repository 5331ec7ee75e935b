"""Every command-line mistake is one line on stderr and a non-zero exit, told before any data loads or folder
is created."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from wgpt_lite.cli import main
from wgpt_lite.infra.device import pick_device
from wgpt_lite.infra.errors import TrainingError

TRAIN = ["train", "--model", "gpt-s", "--corpus", "sample-speech"]
SWEEP = ["sweep", "--corpus", "sample-music", "--tokenizer", "melvq", "--vary", "n_mel_layer=2", "--vary"]
NO_CUDA = "--device cuda: no CUDA device here (torch.cuda.is_available() is False); leave --device out to use cpu"

# (command line, exit status, the line on stderr); {file} is an existing file, {folder} a read-only folder
MISTAKES = {
    "train --steps 0": (
        [*TRAIN, "--steps", "0"],
        2,
        "error: argument --steps: '0' is not a whole number of at least 1 "
        "(python -m wgpt_lite train --help explains the arguments)",
    ),
    "train --steps -3": ([*TRAIN, "--steps", "-3"], 2, "error: argument --steps: '-3' is not a whole number"),
    "train --steps 2.5": ([*TRAIN, "--steps", "2.5"], 2, "error: argument --steps: '2.5' is not a whole number"),
    "reproduce --steps 0": (["reproduce", "--steps", "0"], 2, "error: argument --steps: '0' is not a whole number"),
    "evaluate --crops 0": (["evaluate", "{file}", "--crops", "0"], 2, "error: argument --crops: '0' is not a whole"),
    "data build --jobs 0": (["data", "build", "mini-speech", "--jobs", "0"], 2, "error: argument --jobs: '0' is not"),
    "data build --minutes nan": (
        ["data", "build", "mini-speech", "--minutes", "nan"],
        2,
        "error: argument --minutes: 'nan' is not a positive number",
    ),
    "an unknown command": (["trian"], 2, "error: argument COMMAND: invalid choice: 'trian'"),
    "train --out FILE": (
        [*TRAIN, "--out", "{file}"],
        1,
        "error: {file}: not usable as the --out folder: it is a file; choose another place",
    ),
    "reproduce --out FILE/run": (
        ["reproduce", "--out", "{file}/run"],
        1,
        "error: {file}/run: not usable as the --out folder: {file} is a file; choose another place",
    ),
    "train --out READ-ONLY/run": (
        [*TRAIN, "--out", "{folder}/run"],
        1,
        "error: {folder}/run: the --out folder is not writable (Permission denied); choose another place or fix its "
        "permissions",
    ),
    "train --device cuda": ([*TRAIN, "--device", "cuda"], 1, f"error: {NO_CUDA}"),
    "reproduce --device tpu": (
        ["reproduce", "--device", "tpu"],
        1,
        "error: --device tpu: not a device the kit trains on (cuda, mps, cpu); leave --device out to use cpu",
    ),
    "evaluate --device cuda": (["evaluate", "{file}", "--device", "cuda"], 1, f"error: {NO_CUDA}"),
    "evaluate missing.pt": (
        ["evaluate", "missing.pt"],
        1,
        "error: missing.pt: no checkpoint file there; give the checkpoint.pt that train or reproduce wrote "
        "(OUT/CORPUS/MODEL/checkpoint.pt)",
    ),
    "evaluate FOLDER": (["evaluate", "{folder}"], 1, "error: {folder}: no checkpoint file there"),
    "sweep --vary fusion=product": (
        [*SWEEP, "fusion=product"],
        1,
        "error: --vary fusion=product: unknown fusion 'product'; choose concat (the paper's) or sum",
    ),
    "sweep --vary d_mel=-8": (
        [*SWEEP, "d_mel=-8"],
        1,
        "error: --vary 'd_mel=-8': d_mel takes whole numbers of at least 1, not '-8'",
    ),
}


@pytest.fixture
def no_gpu(monkeypatch):
    """This machine as one without CUDA or MPS, whatever it has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:  # argparse's own mistakes
        return exit.code


def assert_kit_folders_empty() -> None:
    for variable in ("WGPT_HOME", "WGPT_RESULTS"):  # tmp folders of their own (conftest.py)
        assert not any(Path(os.environ[variable]).iterdir()), f"{variable} was written"


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_is_one_line_and_creates_nothing(mistake, tmp_path, monkeypatch, capsys, no_gpu):
    file, folder = tmp_path / "notes.txt", tmp_path / "read-only"
    file.write_text("not a folder")
    folder.mkdir(mode=0o555)
    if mistake.endswith("READ-ONLY/run") and os.access(folder, os.W_OK):
        pytest.skip("this user writes into read-only folders (root); 'reproduce --out FILE/run' still runs")
    monkeypatch.chdir(tmp_path)  # where a relative path would land
    argv, status, line = MISTAKES[mistake]
    assert exit_status([arg.format(file=file, folder=folder) for arg in argv]) == status
    (told,) = capsys.readouterr().err.splitlines()
    assert told.startswith(line.format(file=file, folder=folder))
    assert sorted(tmp_path.iterdir()) == [file, folder] and not any(folder.iterdir())
    assert_kit_folders_empty()


def test_a_mistake_is_all_that_a_real_run_prints():
    """The whole stderr of ``python -m wgpt_lite``: no warning or traceback around the line."""
    result = subprocess.run(
        [sys.executable, "-m", "wgpt_lite", *TRAIN, "--device", "tpu"], capture_output=True, text=True, timeout=120
    )
    (told,) = result.stderr.splitlines()
    assert result.returncode == 1 and told.startswith("error: --device tpu: not a device the kit trains on")
    assert_kit_folders_empty()


def test_a_missing_cuda_device_index_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(
        TrainingError, match=r"^--device cuda:1: this machine has 1 CUDA device\(s\), cuda:0 to cuda:0;"
    ):
        pick_device("cuda:1")
    assert pick_device("cuda:0") == torch.device("cuda:0")


def test_a_missing_mps_device_is_refused(no_gpu):
    with pytest.raises(
        TrainingError, match=r"^--device mps: no Apple MPS device here .*; leave --device out to use cpu$"
    ):
        pick_device("mps")


# Commands that write under each folder an environment variable chooses; {file} is an existing file
FOLDER_USERS = {
    "WGPT_HOME": [
        ["data", "build", "mini-speech"],
        ["data", "features", "sample-speech", "--tokenizer", "melvq"],
        [*TRAIN, "--tokenizer", "melvq"],
        ["reproduce", "--tokenizer", "melvq"],
        [*SWEEP, "fusion=sum"],
        ["evaluate", "{file}"],
        ["probe", "--corpus", "sample-speech", "--tokenizer", "melvq"],
        ["codec", "report", "--corpus", "sample-speech", "--out", "{tmp}/report"],
        ["tokenizers", "compare", "--corpus", "sample-speech"],
    ],
    "WGPT_RESULTS": [
        [*TRAIN, "--tokenizer", "melvq"],
        ["reproduce", "--tokenizer", "melvq"],
        [*SWEEP, "fusion=sum"],
        ["tokenizers", "compare", "--corpus", "sample-speech"],
    ],
    "TORCH_HOME": [[*TRAIN, "--tokenizer", "encodec"]],  # online, with no copy of EnCodec's weights: a download
}
WHAT = {
    "WGPT_HOME": ("", "cache folder (WGPT_HOME)", "set WGPT_HOME to another folder"),
    "WGPT_RESULTS": ("", "results folder (WGPT_RESULTS)", "set WGPT_RESULTS to another folder (or give --out)"),
    "TORCH_HOME": ("/hub/checkpoints", "torch hub cache (TORCH_HOME)", "set TORCH_HOME to another folder"),
}


@pytest.mark.parametrize("under", [False, True], ids=["a-file", "under-a-file"])
@pytest.mark.parametrize(
    "variable, argv",
    [(variable, argv) for variable, commands in FOLDER_USERS.items() for argv in commands],
    ids=[f"{variable}-{' '.join(argv[:2])}" for variable, commands in FOLDER_USERS.items() for argv in commands],
)
def test_a_folder_the_environment_spoils_is_one_line_naming_its_variable(
    variable, argv, under, tmp_path, monkeypatch, capsys
):
    file = tmp_path / "notes.txt"
    file.write_text("not a folder")
    folder = file / "kit" if under else file
    monkeypatch.setenv(variable, str(folder))
    monkeypatch.setenv("WGPT_OFFLINE", "0" if variable == "TORCH_HOME" else "1")
    assert exit_status([arg.format(file=file, tmp=tmp_path) for arg in argv]) == 1
    (told,) = capsys.readouterr().err.splitlines()
    below, what, fix = WHAT[variable]
    in_the_way = "it" if folder == file and not below else str(file)
    assert told == f"error: {folder}{below}: not usable as the {what}: {in_the_way} is a file; {fix}"
    assert sorted(tmp_path.iterdir()) == [file]
    for other in {"WGPT_HOME", "WGPT_RESULTS"} - {variable}:
        assert not any(Path(os.environ[other]).iterdir()), f"{other} was written"


def test_a_spoilt_folder_is_all_that_a_real_run_prints(tmp_path):
    """The whole stderr of ``python -m wgpt_lite``: the line, no traceback."""
    file = tmp_path / "notes.txt"
    file.write_text("not a folder")
    result = subprocess.run(
        [sys.executable, "-m", "wgpt_lite", "data", "features", "sample-speech", "--tokenizer", "melvq"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WGPT_HOME": str(file / "kit")},
    )
    assert result.returncode == 1 and result.stderr == (
        f"error: {file}/kit: not usable as the cache folder (WGPT_HOME): {file} is a file; "
        "set WGPT_HOME to another folder\n"
    )


def test_a_spoilt_download_folder_is_one_line_naming_its_variable(tmp_path, monkeypatch, capsys):
    file = tmp_path / "notes.txt"
    file.write_text("not a folder")
    monkeypatch.setenv("WGPT_DOWNLOADS", str(file))
    monkeypatch.setenv("WGPT_OFFLINE", "0")  # refused before any request
    assert exit_status(["data", "fetch", "maestro", "--hours", "1"]) == 1
    (told,) = capsys.readouterr().err.splitlines()
    assert told == (
        f"error: {file}/maestro-v3.0.0: the download folder (WGPT_DOWNLOADS, else under WGPT_HOME) is not writable "
        "(Not a directory); set WGPT_DOWNLOADS to another folder (or give --dest) or fix its permissions"
    )
    assert sorted(tmp_path.iterdir()) == [file]
