"""Checks that nothing the models see at frame ``t`` depends on audio after frame ``t``.

The comparison in the paper is only fair if the hybrid's spectrogram shows it nothing
the tokens could not: mel frame ``t`` and token ``t`` must both be functions of the
samples before ``(t + 1) * HOP``. These helpers perturb exactly the future and
measure what changes; notebooks 01 and 03 run them live, the tests assert on them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from wgpt_lite.audio import HOP, log_mel, mel_filters, power_spectrogram


def perturb_future(
    wav: torch.Tensor, t: int, loudness: float = 100.0, seed: int = 0, start: int | None = None
) -> torch.Tensor:
    """A copy of ``wav`` whose samples from ``start`` (default ``(t + 1) * HOP``, the first after
    frame ``t``) on are replaced by loud noise."""
    out = wav.clone()
    start = (t + 1) * HOP if start is None else start
    noise = torch.randn(out.shape[-1] - start, generator=torch.Generator().manual_seed(seed))
    out[..., start:] = loudness * noise * wav.abs().max().clamp(min=1e-3)
    return out


def future_leak(
    features: Callable[[torch.Tensor], torch.Tensor], wav: torch.Tensor, t: int, start: int | None = None
) -> dict:
    """How much frames ``<= t`` and frame ``t + 1`` of ``features(wav)`` move when the future changes.

    ``features`` maps a waveform to a [frames, ...] tensor. A causal front end gives
    ``past_change == 0.0`` exactly, and a non-zero ``next_change``. ``start``: the first sample
    changed, when a test needs frames ``<= t`` blind to more than the future (``perturb_future``).
    """
    before, after = features(wav), features(perturb_future(wav, t, start=start))
    return {
        "t": t,
        "past_change": (before[: t + 1] - after[: t + 1]).abs().max().item(),
        "next_change": (before[t + 1] - after[t + 1]).abs().max().item(),
    }


def whisper_clamped_log_mel(wav: torch.Tensor) -> torch.Tensor:
    """The kit's log-mel plus Whisper's per-clip clamp ``max(x, x.max() - 8)``: a counterexample.

    The clamp reads the loudest value anywhere in the clip (``x.max()`` over every frame and
    bin), so every frame learns something about the future. Never used by the models; it is here to show the leak.
    """
    log10_mel = (mel_filters() @ power_spectrogram(wav)).clamp(min=1e-10).log10()
    clamped = torch.maximum(log10_mel, log10_mel.max() - 8.0)  # the leak: max over the whole clip
    return ((clamped + 4.0) / 4.0).transpose(-1, -2)


def model_future_leak(model: torch.nn.Module, wav: torch.Tensor, tokenizer, t: int) -> dict:
    """Perturb the audio after frame ``t``, recompute mel *and* tokens, compare the model's logits.

    The model at position ``p`` sees tokens and mel frames ``0..p``; positions ``<= t``
    must give bit-identical logits. Returns the largest change at positions ``<= t``
    and at ``t + 1``.
    """

    def logits_of(audio: torch.Tensor) -> torch.Tensor:
        mel, ids = log_mel(audio), tokenizer.encode(audio)
        context = model.config.context
        with torch.no_grad():
            return model(ids[None, :context], mel=mel[None, :context])[0][0]

    return future_leak(logits_of, wav, t)


def mel_influence(model: torch.nn.Module, ids: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
    """How strongly the logits at each position depend on each mel frame: [T positions, T frames].

    Entry ``[p, s]`` is the gradient norm of position ``p``'s log-probabilities with
    respect to mel frame ``s`` (one backward pass per position). A causal hybrid gives
    exactly zero above the diagonal: position ``p`` cannot feel frame ``s > p``.
    """
    mel = mel.detach().clone().requires_grad_(True)  # [T, n_mels]
    logits, _ = model(ids[None], mel=mel[None])
    log_probs = logits[0].log_softmax(-1)  # [T, vocab]
    rows = []
    for position in range(ids.shape[0]):
        (grad,) = torch.autograd.grad(log_probs[position].sum(), mel, retain_graph=True)
        rows.append(grad.norm(dim=-1))
    return torch.stack(rows)
