"""What the training benchmarks run: the kit's training step and its plain reference.

Their FLOPs: ``wgpt_lite.experiment.budget.train_flops_per_token``.

``train_step`` is one iteration of the loop in ``wgpt_lite.train.train`` (autocast forward
with targets, then ``train.update``: backward, unscale, clip, AdamW from
``train.make_optimizer``) on a fixed random batch, without data loading, logging or the
LR schedule, which cost microseconds.
"""

from __future__ import annotations

import math
from functools import cache

import torch
import torch.nn.functional as F

from wgpt_lite.infra.device import autocast
from wgpt_lite.model import GPT, CausalSelfAttention
from wgpt_lite.presets import PAPER, build_model
from wgpt_lite.train import make_optimizer, update


def random_batch(model: GPT, batch: int, context: int, device: torch.device, seed: int = 0):
    """(tokens [batch, context + 1], mel [batch, context + 1, n_mels]) as ``random_crops`` returns them."""
    generator = torch.Generator().manual_seed(seed)
    config = model.config
    tokens = torch.randint(0, config.vocab_size, (batch, context + 1), generator=generator)
    mel = torch.randn(batch, context + 1, config.n_mels, generator=generator)
    return tokens.to(device), mel.to(device)


def train_step(
    model: GPT, batch, device: torch.device, precision: str, compile: bool = False, kit_optimizer: bool = True
):
    """A closure running one optimizer step of train.py's loop on ``batch``; the model is moved to ``device``.

    ``kit_optimizer=False`` leaves AdamW's implementation to torch's default, as a plain script would.
    """
    config = PAPER.budget
    model = model.to(device).train()
    forward = torch.compile(model) if compile else model
    if kit_optimizer:
        optimizer = make_optimizer(model, config, device)
    else:  # torch's default implementation, as a plain script would write it
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, betas=(0.9, config.beta2), weight_decay=config.weight_decay
        )
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    tokens, mel = batch

    def step():
        with autocast(device, precision):
            _, loss = forward(tokens[:, :-1], mel=mel[:, :-1], targets=tokens[:, 1:])
        update(loss, model, optimizer, scaler, config.grad_clip)
        return loss.item()  # train.py logs it every step (on a GPU this waits for the step)

    return step


class ExplicitAttention(CausalSelfAttention):
    """Causal self-attention as a careful student writes it: scores, mask, softmax, weighted sum.

    The same parameters as the kit's module; each of those four ops reads and writes a full
    [batch, heads, T, T] tensor, where ``scaled_dot_product_attention`` fuses them in blocks.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(k.shape[-1])
        weights = F.softmax(scores.masked_fill(future_mask(T, x.device), float("-inf")), dim=-1)
        y = (weights @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


@cache
def future_mask(T: int, device: torch.device) -> torch.Tensor:
    """True above the diagonal; made once per length, as nanoGPT keeps it in a buffer."""
    return torch.ones(T, T, dtype=torch.bool, device=device).triu(diagonal=1)


def reference_model(name: str, preset: str = "paper", **overrides) -> GPT:
    """The kit's model (same shapes, parameters and init) with every attention written out explicitly."""
    model = build_model(name, preset, **overrides)
    for module in model.modules():
        if type(module) is CausalSelfAttention:
            module.__class__ = ExplicitAttention  # same attributes and weights, other forward
    return model
