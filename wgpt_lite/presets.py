"""The size presets, each on one page: model shapes, training budget, default corpora, and why.

A preset is everything that changes with the machine you run on; the code is the same
for all of them.

- ``paper``: the paper's models (GPT-S 3.7M, hybrid 4.0M, GPT-L 40M), for an A100/L4-class GPU.
- ``colab``: the same models with half the steps, to fit a free Colab T4 session.
- ``mini``: the same three models scaled to train on 2 CPU cores in minutes.
- ``smoke``: seconds-long models for the tests and the notebooks' CI.

``WGPT_PRESET`` chooses one; unset, it is ``paper`` on a GPU with bf16 and 20 GB or more,
``colab`` on a smaller or older GPU (a T4), and ``mini`` otherwise. How long each takes
where: ``wgpt_lite.experiment.budget``.

    >>> import wgpt_lite as wl
    >>> wl.build_model("hybrid", "mini").num_params()
    250880
    >>> wl.train_config("mini").patience, wl.preset_corpora("mini")
    (3, ['mini-speech', 'mini-music'])
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

import torch

from wgpt_lite.infra.errors import ModelError, TrainingError
from wgpt_lite.model import GPT, ModelConfig, from_config
from wgpt_lite.train import TrainConfig

MODELS = ("gpt-s", "gpt-l", "hybrid")

# The paper's parameter counts, which the `paper` shapes must match within 5%.
PAPER_PARAMS = {"gpt-s": 3.7e6, "gpt-l": 40e6, "hybrid": 4.0e6}


@dataclass(frozen=True)
class Preset:
    name: str
    context: int  # frames a model sees at once
    small: dict  # GPT-S, and the hybrid's decoder stack
    large: dict  # GPT-L
    mel: dict  # what the hybrid adds to GPT-S: the mel blocks, and their share of the width
    budget: TrainConfig  # the same for every model
    corpora: tuple[str, str]  # (speech, music) that `reproduce` uses by default


# ---------------------------------------------------------------------------
# paper: the paper's sizes and budget, for an A100/L4-class GPU (budget.py: 0.8 h on an A100,
# 2.0 h on an L4, 3.8 h on a T4, hence colab).
# Counts (every parameter, embeddings and head included): GPT-S 3.81M, hybrid 4.00M,
# GPT-L 41.0M, within 5% of the paper's 3.7M / 4M / 40M (tests/test_model.py checks).
# The hybrid gives 96 of its 256 channels to the mel: its token embedding is 160 wide.
# Context 512 frames = 6.8 s. Epochs are true passes over the training split (about
# 165 steps for 600 minutes). Corpora: LibriSpeech and MAESTRO v3, as in the paper.
PAPER = Preset(
    name="paper",
    context=512,
    small=dict(n_layer=4, n_head=4, n_embd=256),
    large=dict(n_layer=8, n_head=10, n_embd=640),
    mel=dict(d_mel=96, n_mel_layer=2, n_mel_head=3),
    budget=TrainConfig(steps=20_000, batch_size=32, context=512, lr=5e-4, warmup_steps=500, eval_crops=512),
    corpora=("librispeech", "maestro"),
)

# ---------------------------------------------------------------------------
# colab: the paper's models, corpora, batch and context on a free Colab T4 (16 GB, fp16 only,
# sessions of a few hours): the whole comparison in about 1.9 h by budget.py's FLOP estimate
# (paper: 3.8 h). Half the paper's steps (10,000, still about 60 passes over 600 training
# minutes) and half its evaluation crops (256 x 512 frames, 29 of the 75 held-out minutes);
# warm-up, peak LR and everything else as in paper. The estimate assumes 25% of the T4's peak;
# the run fits 2.5 h down to 19%. A session that disconnects loses at most one epoch: run
# `reproduce` again and it resumes from the checkpoints.
COLAB = replace(PAPER, name="colab", budget=replace(PAPER.budget, steps=10_000, eval_crops=256))

# ---------------------------------------------------------------------------
# mini: the paper's experiment on 2 CPU cores, every model trained until its validation NLL
# stops improving: `make demo` in about 10 minutes on 2 cores, corpus builds included (docs/results.md).
# Counts: GPT-S 0.24M, hybrid 0.25M (+5%), GPT-L 2.54M (10.6x), near the paper's ratios. At such
# small widths the 1024-token embedding and head are a large share, so the hybrid needs 3
# mel blocks to end up near GPT-S + 8%; it gives half its width (32 of 64) to the mel.
# Budget: early stopping (patience 3 evaluations of 100 steps) within at most 1,500 steps of
# 16 x 128 frames (1.7 s crops); 128 fixed crops score each split. Measured on mini-music:
# after 300 steps (the old budget) every curve was still falling and the ranking was the
# reverse of the converged one. What it trades: half the old context (1.7 s instead of 3.4 s:
# the paper's 6.8 s is four times more) for steps, which buy more than context here.
# Corpora: the offline mini corpora.
MINI = Preset(
    name="mini",
    context=128,
    small=dict(n_layer=2, n_head=2, n_embd=64),
    large=dict(n_layer=4, n_head=4, n_embd=208),
    mel=dict(d_mel=32, n_mel_layer=3, n_mel_head=2),
    budget=TrainConfig(
        steps=1500,
        batch_size=16,
        context=128,
        lr=2e-3,
        warmup_steps=50,
        epoch_steps=100,
        eval_crops=128,
        patience=3,
    ),
    corpora=("mini-speech", "mini-music"),
)

# ---------------------------------------------------------------------------
# smoke: seconds, for the tests and the notebooks under nbval. GPT-S 80k; it does not keep
# the paper's ratios (GPT-L is 2.9x GPT-S, the hybrid smaller than GPT-S): it only has to
# run every code path. Corpora: the few committed seconds of data/sample/, nothing to build.
SMOKE = Preset(
    name="smoke",
    context=64,
    small=dict(n_layer=1, n_head=2, n_embd=32),
    large=dict(n_layer=2, n_head=2, n_embd=64),
    mel=dict(d_mel=8, n_mel_layer=1, n_mel_head=1),
    budget=TrainConfig(steps=20, batch_size=4, context=32, lr=3e-3, warmup_steps=2, epoch_steps=5, eval_crops=8),
    corpora=("sample-speech", "sample-music"),
)

# `colab` last, so that the messages listing the presets start as they always have.
PRESET_TABLE = {preset.name: preset for preset in (PAPER, MINI, SMOKE, COLAB)}
PRESETS = tuple(PRESET_TABLE)


def get_preset(name: str | Preset, error: type[Exception] = ModelError) -> Preset:
    """The preset called ``name`` (a ``Preset`` is itself); an unknown name raises ``error`` listing the choices.

    Resolve a name once at the edge (the CLI, a notebook, ``reproduce``) and hand the ``Preset`` down.
    """
    if isinstance(name, Preset):
        return name
    if name not in PRESET_TABLE:
        raise error(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESET_TABLE[name]


# The smallest GPU memory that gets the full `paper` budget by default (an L4 has 24 GB, a T4 16 GB).
PAPER_GPU_MEMORY = 20 * 2**30


def default_preset() -> str:
    """The size preset named by ``WGPT_PRESET``, or the best fit for this machine.

    ``paper`` on a GPU with native bf16 and 20 GB or more (A100, L4, H100), ``colab`` on
    other GPUs (a T4: fp16 and 16 GB, where ``paper`` would take about 3.8 h), ``mini`` on a
    CPU or an Apple GPU.
    """
    name = os.environ.get("WGPT_PRESET", "").strip().lower()
    if name:
        if name not in PRESET_TABLE:
            raise ModelError(f"WGPT_PRESET={name!r} is not a preset; choose one of {', '.join(PRESETS)}")
        return name
    if not torch.cuda.is_available():
        return "mini"
    large = torch.cuda.get_device_properties(0).total_memory >= PAPER_GPU_MEMORY
    return "paper" if large and torch.cuda.is_bf16_supported(including_emulation=False) else "colab"


def model_config(name: str, preset: str | Preset = "paper", **overrides) -> ModelConfig:
    """The ``ModelConfig`` of model ``name`` at size ``preset``; keyword overrides win.

    >>> model_config("gpt-l", "paper").n_embd
    640
    """
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    shape = get_preset(preset)
    config = ModelConfig(context=shape.context, **(shape.large if name == "gpt-l" else shape.small))
    if name == "hybrid":
        config = replace(config, **shape.mel)
    try:
        return replace(config, **overrides)
    except TypeError as err:
        fields = ", ".join(asdict(config))
        raise ModelError(f"bad model override ({err}); fields are {fields}") from err


def build_model(name: str, preset: str | Preset = "paper", **overrides) -> GPT:
    """Build ``"gpt-s"``, ``"gpt-l"`` or ``"hybrid"`` at size ``"paper"``, ``"mini"`` or ``"smoke"``.

    >>> build_model("gpt-s", "paper", vocab_size=512).config.vocab_size
    512
    """
    return from_config(model_config(name, preset, **overrides))


def train_config(preset: str | Preset, **overrides) -> TrainConfig:
    """The budget of ``preset`` with keyword overrides (``None`` keeps the preset's value).

    >>> train_config("mini", steps=100).steps
    100
    """
    budget = get_preset(preset, TrainingError).budget
    return TrainConfig(**{**asdict(budget), **{k: v for k, v in overrides.items() if v is not None}})


def preset_corpora(preset: str | Preset) -> list[str]:
    """The (speech, music) corpora a preset reproduces on by default."""
    return list(get_preset(preset).corpora)
