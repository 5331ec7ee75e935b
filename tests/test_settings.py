import pytest
import torch

import wgpt_lite as wl
from wgpt_lite.infra.settings import downloads_dir, drive_dir, home_dir, local_home, offline, results_root


def test_preset_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("WGPT_PRESET", "Mini")
    assert wl.default_preset() == "mini"
    monkeypatch.delenv("WGPT_PRESET")
    assert wl.default_preset() in ("paper", "colab", "mini")  # paper or colab only where CUDA is available


def test_a_bad_preset_in_the_environment_is_named(monkeypatch):
    monkeypatch.setenv("WGPT_PRESET", "huge")
    with pytest.raises(wl.ModelError, match="WGPT_PRESET='huge'.*paper, mini, smoke"):
        wl.default_preset()


def test_home_and_offline_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("WGPT_HOME", str(tmp_path))
    assert home_dir() == tmp_path
    monkeypatch.setenv("WGPT_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert offline()
    monkeypatch.setenv("HF_HUB_OFFLINE", "")
    assert not offline()


def test_precision_can_be_forced_and_a_bad_one_is_named(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setenv("WGPT_PRECISION", "FP32")
    assert wl.pick_precision(cpu) == "fp32"
    monkeypatch.setenv("WGPT_PRECISION", "fp8")
    with pytest.raises(wl.TrainingError, match="WGPT_PRECISION='fp8'.*bf16, fp16, fp32"):
        wl.pick_precision(cpu)


def test_a_mounted_drive_holds_caches_and_results(monkeypatch, tmp_path):
    monkeypatch.delenv("WGPT_HOME", raising=False)
    monkeypatch.delenv("WGPT_RESULTS", raising=False)
    monkeypatch.setenv("WGPT_DRIVE", str(tmp_path / "MyDrive"))
    assert drive_dir() is None and home_dir() != tmp_path / "MyDrive" / "wgpt_lite" / "cache"  # not mounted
    (tmp_path / "MyDrive").mkdir()
    assert home_dir() == tmp_path / "MyDrive" / "wgpt_lite" / "cache"
    assert results_root() == tmp_path / "MyDrive" / "wgpt_lite" / "results"
    assert wl.results_dir("paper", "encodec") == tmp_path / "MyDrive" / "wgpt_lite" / "results" / "paper-encodec"
    assert downloads_dir() == local_home() / "downloads", "tens of GB of MAESTRO stay off a 15 GB Drive"
    monkeypatch.setenv("WGPT_HOME", str(tmp_path / "elsewhere"))
    assert home_dir() == tmp_path / "elsewhere", "an explicit WGPT_HOME wins over the Drive"
    assert downloads_dir() == tmp_path / "elsewhere" / "downloads"


def test_results_folders_are_keyed_by_preset_and_tokenizer(monkeypatch, tmp_path):
    monkeypatch.setenv("WGPT_RESULTS", str(tmp_path))
    assert wl.results_dir("mini", "melvq") == tmp_path / "mini-melvq"
    assert wl.results_dir("mini", "auto") == tmp_path / "mini-codec"  # offline, no EnCodec weights: the codec
    assert wl.results_dir("paper", "encodec") == tmp_path / "paper-encodec"


def test_a_read_only_results_folder_fails_before_training(tmp_path):
    out = tmp_path / "results.txt"
    out.write_text("a file, not a folder")
    with pytest.raises(wl.DataError, match="results.txt: the results folder is not writable"):
        wl.reproduce("smoke", ["sample-music"], tokenizer="melvq", out=out, progress=False)
