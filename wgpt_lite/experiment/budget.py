"""How long the whole comparison takes: measured on this machine, or estimated from FLOPs for a named GPU.

The whole comparison is what ``reproduce`` runs: the 3 models on each of the preset's 2
corpora, each for ``steps`` training steps, scored on the validation crops at the end of
every epoch and once more on the table's split. Two ways to time it:

- **measured** (``measure_step_seconds``), whatever device is here, a GPU included: a
  few real training steps of each model at the preset's shapes (train()'s step: autocast
  forward, ``update``), after one untimed step, scaled up to the whole budget;
- **FLOP estimate** for a GPU of ``GPUS`` by name, to plan for a card you do not have:
  the model FLOPs of the budget (``train_flops_per_token``: 6 N per training token plus
  attention) over the GPU's dense fp16/bf16 peak times ``ASSUMED_MFU``. No GPU has timed
  these models yet: on one, ``measure_step_seconds`` against ``step_flops`` / peak tells
  the true utilisation.

A training notebook prints the estimate before it starts::

    >>> print(budget_line("colab", "T4"))
    preset colab on Tesla T4 (fp16): about 1.9 h for the 3 models x 2 corpora
    (FLOP estimate at 25% of 65 TFLOP/s); preset paper: about 3.8 h
"""

from __future__ import annotations

import math
import re
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn as nn

from wgpt_lite.data.corpora import corpus_spec
from wgpt_lite.infra.device import autocast, pick_device, pick_precision
from wgpt_lite.model import GPT, CausalSelfAttention
from wgpt_lite.presets import MODELS, build_model, preset_corpora, train_config
from wgpt_lite.train import make_optimizer, steps_per_epoch, update


@dataclass(frozen=True)
class GPU:
    name: str  # as torch.cuda.get_device_name() begins (an A100's goes on: "NVIDIA A100-SXM4-40GB")
    peak_tflops: float  # dense fp16/bf16 tensor-core peak of the vendor's data sheet (not the 2:4-sparse figure)
    precision: str  # what pick_precision chooses there: fp16 before Ampere, bf16 from it on


GPUS = {
    "T4": GPU("Tesla T4", 65, "fp16"),  # Colab's free GPU: 16 GB, 70 W, no bf16
    "L4": GPU("NVIDIA L4", 121, "bf16"),
    "A100": GPU("NVIDIA A100", 312, "bf16"),
    "H100": GPU("NVIDIA H100", 989, "bf16"),  # SXM; the PCIe card's peak is 756
}

# The share of the peak that training reaches (model FLOPs utilisation): assumed, not measured
# (no GPU here). nanoGPT users report GPT-2 small (124M) at roughly 20% (a Turing card, the
# T4's generation) to 50% of their card's peak (karpathy/nanoGPT#182). Ours are narrower
# (width 256 to 640), so memory-bound work (layer norms, GELU, the 1024-way softmax, AdamW)
# weighs more, and eager PyTorch waits for the GPU every step (train() logs the loss). GPT-L,
# 83% of the FLOPs, is the model that counts. Read every GPU figure as good to a factor of 2;
# on an H100 the two small models are likely bound by kernel launches, below this.
ASSUMED_MFU = 0.25

# A forward pass costs a third of a training step's FLOPs (backward costs twice the forward).
FORWARD_SHARE = 1 / 3

MEASURED_STEPS = 3  # timed steps of each model behind a measured estimate

GPU_PRESETS = ("paper", "colab")  # the presets with the paper's models: a line for a GPU gives both


def train_flops_per_token(model: GPT, context: int) -> float:
    """Model FLOPs of one training token: 6 N + 12 (sum of attention widths) T.

    N counts the parameters outside the embedding tables (a lookup does no arithmetic);
    the attention term counts the full T x T scores and weighted sums forward and
    backward, as PaLM's appendix B does, although a causal kernel needs about half.

    >>> round(train_flops_per_token(build_model("gpt-s", "paper"), context=512) / 1e9, 4)
    0.0268
    """
    embeddings = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Embedding))
    attention_width = sum(m.c_proj.in_features for m in model.modules() if isinstance(m, CausalSelfAttention))
    return 6 * (model.num_params() - embeddings) + 12 * attention_width * context


def step_flops(model_name: str, preset: str) -> float:
    """Model FLOPs of one training step of ``model_name`` at ``preset``'s shapes, batch and context."""
    config = train_config(preset)
    with torch.device("meta"):  # the shapes alone: no memory, no initialisation time
        model = build_model(model_name, preset)
    return train_flops_per_token(model, config.context) * config.batch_size * config.context


def step_equivalents(preset: str, corpus: str) -> float:
    """The work of one model on ``corpus`` in training steps: the budget's steps, plus its
    evaluations (every epoch's end, then the table's split) counted at their FLOPs. With early
    stopping (``patience``) this is the most a model can take; most stop sooner.

    An epoch follows the corpus's default training minutes, as ``train`` counts it.

    >>> round(step_equivalents("mini", "mini-speech"), 2)   # 1,500 steps, 16 evaluations of 128 crops
    1542.67
    """
    config = train_config(preset)
    epoch_steps = steps_per_epoch({"seconds": [corpus_spec(corpus).minutes * 60]}, config)
    evaluations = math.ceil(config.steps / epoch_steps) + 1
    eval_tokens = evaluations * config.eval_crops * config.context
    return config.steps + FORWARD_SHARE * eval_tokens / (config.batch_size * config.context)


def measure_step_seconds(
    model_name: str,
    preset: str,
    device: str | torch.device | None = None,
    precision: str | None = None,
    steps: int = MEASURED_STEPS,
) -> float:
    """Median seconds of ``steps`` training steps of ``model_name`` at ``preset``'s shapes, after one untimed step.

    The step is train()'s (autocast forward with targets, then ``update``: backward, fp16
    loss scaling, clipping, AdamW) on a random batch; ``device`` and ``precision`` default
    to what ``train`` would pick. The first step allocates AdamW's state and warms caches.

    >>> measure_step_seconds("gpt-s", "smoke", "cpu", steps=1) > 0
    True
    """
    device = pick_device(device)
    precision = precision or pick_precision(device)
    config = train_config(preset)
    model = build_model(model_name, preset).to(device).train()
    optimizer = make_optimizer(model, config, device)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    tokens = torch.randint(0, model.config.vocab_size, (config.batch_size, config.context + 1), device=device)
    mel = torch.randn(config.batch_size, config.context + 1, model.config.n_mels, device=device)
    seconds = []
    for _ in range(1 + steps):
        started = time.perf_counter()
        with autocast(device, precision):
            _, loss = model(tokens[:, :-1], mel=mel[:, :-1], targets=tokens[:, 1:])
        update(loss, model, optimizer, scaler, config.grad_clip)
        loss.item()  # train() logs every loss, which waits for the step to finish
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds[1:])


def known_gpu(device: str | torch.device | None) -> GPU | None:
    """The GPU of ``GPUS`` that ``device`` names ("T4") or is (a CUDA device called e.g. "Tesla T4"); else None."""
    if isinstance(device, str) and device in GPUS:
        return GPUS[device]
    device = pick_device(device)
    if device.type != "cuda":
        return None
    words = re.split(r"[\s-]+", torch.cuda.get_device_name(device))  # "NVIDIA A100-SXM4-40GB": A100, not L40S's L4
    return next((GPUS[key] for key in GPUS if key in words), None)


def comparison_seconds(
    preset: str, device: str | torch.device | None = None, corpora: list[str] | None = None
) -> float:
    """Seconds the whole comparison of ``preset`` takes: the 3 models on each of ``corpora`` (default: the preset's).

    ``device``: a GPU of ``GPUS`` by name ("T4") gets the FLOP estimate, from anywhere; a
    device that is here (default: this machine's best) is measured, ``MEASURED_STEPS``
    steps of each model, so a slow card or a busy machine shows in the answer.

    >>> round(comparison_seconds("paper", "A100") / 3600, 2)   # hours
    0.79
    """
    gpu = GPUS.get(device) if isinstance(device, str) else None
    corpora = corpora or preset_corpora(preset)
    seconds = 0.0
    for name in MODELS:
        if gpu:
            step_seconds = step_flops(name, preset) / (gpu.peak_tflops * 1e12 * ASSUMED_MFU)
        else:
            step_seconds = measure_step_seconds(name, preset, device)
        seconds += step_seconds * sum(step_equivalents(preset, corpus) for corpus in corpora)
    return seconds


def budget_line(preset: str, device: str | torch.device | None = None) -> str:
    """One line for a training notebook to print up front: how long ``preset``'s comparison takes on ``device``.

    ``device`` as in ``comparison_seconds``. On a GPU (named, or here) it gives the other
    GPU preset's time too; a GPU here that ``GPUS`` knows also gets the FLOP estimate beside
    the measurement.
    """
    named = GPUS.get(device) if isinstance(device, str) else None
    if named:
        where = f"{named.name} ({named.precision})"
        how = f"FLOP estimate at {ASSUMED_MFU:.0%} of {named.peak_tflops:g} TFLOP/s"
    else:
        torch_device = pick_device(device)
        name = torch.cuda.get_device_name(torch_device) if torch_device.type == "cuda" else torch_device.type
        where = f"{name} ({pick_precision(torch_device)})"
        how = f"measured: {MEASURED_STEPS} steps of each model"
        here = known_gpu(torch_device)
        if here:
            key = next(key for key, gpu in GPUS.items() if gpu is here)
            how += f"; FLOP estimate: {duration(comparison_seconds(preset, key))}"
    bound = "at most" if train_config(preset).patience else "about"  # early stopping ends most runs sooner
    line = (
        f"preset {preset} on {where}: {bound} {duration(comparison_seconds(preset, device))} "
        f"for the {len(MODELS)} models x {len(preset_corpora(preset))} corpora ({how})"
    )
    on_gpu = named is not None or pick_device(device).type == "cuda"
    others = [other for other in GPU_PRESETS if other != preset] if on_gpu else []
    return line + "".join(f"; preset {other}: about {duration(comparison_seconds(other, device))}" for other in others)


def duration(seconds: float) -> str:
    """``"40 s"`` below a minute, ``"13 min"`` below an hour, ``"2.3 h"`` from there on.

    >>> duration(40), duration(754), duration(8280)
    ('40 s', '13 min', '2.3 h')
    """
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"
