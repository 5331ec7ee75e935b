"""Budgets that fit the hardware: the time estimates, the `colab` preset, and the default preset per GPU."""

from types import SimpleNamespace

import pytest
import torch

import wgpt_lite as wl
from wgpt_lite.experiment.budget import (
    GPUS,
    budget_line,
    comparison_seconds,
    known_gpu,
    measure_step_seconds,
    step_equivalents,
)
from wgpt_lite.presets import get_preset

T4_SESSION_SECONDS = 2.5 * 3600  # what a free Colab T4 session reliably gives


def test_colab_keeps_the_paper_models_and_corpora_with_half_the_steps():
    paper, colab = get_preset("paper"), get_preset("colab")
    assert (colab.context, colab.small, colab.large, colab.mel) == (paper.context, paper.small, paper.large, paper.mel)
    assert colab.corpora == paper.corpora
    assert colab.budget.steps == paper.budget.steps // 2
    assert (colab.budget.batch_size, colab.budget.lr, colab.budget.warmup_steps) == (
        paper.budget.batch_size,
        paper.budget.lr,
        paper.budget.warmup_steps,
    )


def test_the_colab_comparison_fits_a_t4_session_and_the_paper_one_does_not():
    assert comparison_seconds("colab", "T4") < 0.8 * T4_SESSION_SECONDS  # room for a T4 slower than assumed
    assert comparison_seconds("paper", "T4") > T4_SESSION_SECONDS
    assert comparison_seconds("paper", "A100") < comparison_seconds("paper", "L4") < T4_SESSION_SECONDS


def test_evaluations_count_every_epoch_and_the_table_split_at_a_third_of_a_training_step():
    # paper on librispeech: 600 training minutes are 165 steps of 32 x 512 frames, so 20,000 steps
    # make 122 epochs (the last one short), each scored on 512 crops, then the test split once.
    evaluations = 122 + 1
    assert step_equivalents("paper", "librispeech") == pytest.approx(20_000 + evaluations * 512 * 512 / 3 / (32 * 512))
    # maestro has as many training minutes: one corpus is half the comparison
    assert comparison_seconds("paper", "T4", ["librispeech"]) == pytest.approx(comparison_seconds("paper", "T4") / 2)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_measured_steps_run_the_training_step(precision):
    for name in wl.MODELS:
        assert 0 < measure_step_seconds(name, "smoke", "cpu", precision, steps=1) < 10


def test_a_named_gpu_gets_the_flop_estimate_and_this_cpu_is_measured(monkeypatch):
    monkeypatch.setenv("WGPT_PRECISION", "fp32")
    assert budget_line("colab", "T4").startswith("preset colab on Tesla T4 (fp16): about 1.9 h")
    assert "; preset paper: about 3.8 h" in budget_line("colab", "T4")
    line = budget_line("smoke", "cpu")
    assert line.startswith("preset smoke on cpu (fp32): about ") and "(measured: 3 steps of each model)" in line


@pytest.mark.parametrize(
    ("device_name", "gpu"),
    [("Tesla T4", "T4"), ("NVIDIA A100-SXM4-40GB", "A100"), ("NVIDIA H100 80GB HBM3", "H100"), ("NVIDIA L40S", None)],
)
def test_a_cuda_device_is_known_by_its_name(device_name, gpu, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # pick_device refuses a CUDA that is not there
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: device_name)
    assert known_gpu("cuda") == (GPUS[gpu] if gpu else None)  # an L40S is no L4: it gets measured


@pytest.mark.parametrize(
    ("gib", "bf16", "preset"),
    [(15, False, "colab"), (24, True, "paper"), (80, True, "paper"), (8, True, "colab"), (32, False, "colab")],
    ids=["T4", "L4", "A100", "8GB-card", "V100"],
)
def test_the_default_preset_follows_the_gpu(gib, bf16, preset, monkeypatch):
    monkeypatch.delenv("WGPT_PRESET")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(total_memory=gib * 2**30))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16)
    assert wl.default_preset() == preset


def test_the_default_preset_without_a_gpu_is_mini(monkeypatch):
    monkeypatch.delenv("WGPT_PRESET")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert wl.default_preset() == "mini"
