import pytest
import torch

import wgpt_lite as wl
from wgpt_lite.settings import home_dir, offline


def test_preset_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("WGPT_PRESET", "Mini")
    assert wl.default_preset() == "mini"
    monkeypatch.delenv("WGPT_PRESET")
    assert wl.default_preset() in ("paper", "mini")  # paper only where CUDA is available


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
