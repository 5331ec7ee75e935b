"""Cheap numbers for generated (or real) token sequences: how likely, how varied, how stuck.

Here too: ``continue_clip`` continues a recording and renders prompt and continuation to
audio, and ``closed_loop_mismatch`` measures what the hybrid's closed loop costs on a real clip.

None of them is a listening test. ``continuation_nll`` asks a model how surprised it is
by a continuation (lower: more like what it learned; a generation scored by the model
that made it is flattered). ``token_entropy`` and ``repetition_rate`` catch the usual
failure of sampling at a low temperature: one or two tokens over and over (low entropy,
high repetition). Compare them with the same numbers on real clips of the corpus.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wgpt_lite.audio import FRAME_RATE
from wgpt_lite.display.inversion import tokens_to_audio
from wgpt_lite.generate import Generation, generate, mel_source
from wgpt_lite.model import GPT, evaluation_mode
from wgpt_lite.tokenizers import clip_features


def _as_tokens(tokens) -> torch.Tensor:
    return tokens.detach().long().cpu() if torch.is_tensor(tokens) else torch.as_tensor(tokens, dtype=torch.long)


@torch.no_grad()
def continuation_nll(
    model: torch.nn.Module, tokens: torch.Tensor, mel: torch.Tensor | None = None, prompt: int = 0
) -> float:
    """Mean negative log-likelihood, in nats per token, of tokens ``1..T`` given those before.

    ``tokens`` is [B, T] (or [T]); ``mel`` [B, T, n_mels] aligned with it, for the hybrid.
    ``prompt``: the first ``prompt`` tokens are context only, not scored (pass a prompt and
    its continuation together to score the continuation given the prompt).
    The model runs in eval mode without gradients (its mode is restored afterwards).
    Sequences longer than the model's context are cropped from the end, keeping the
    last ``config.context + 1`` tokens, so that the model sees one full context. Within
    the context and with ``prompt=0`` it is exactly the model's own loss,
    ``model(ids[:, :-1], mel=mel[:, :-1], targets=ids[:, 1:])``.

    >>> import math, torch, wgpt_lite as wl
    >>> model = wl.build_model("gpt-s", "smoke", vocab_size=16)
    >>> ids = torch.randint(0, 16, (2, 20), generator=torch.Generator().manual_seed(0))
    >>> abs(continuation_nll(model, ids) - math.log(16)) < 0.5   # untrained: about log(vocab)
    True
    """
    ids = _as_tokens(tokens)
    if ids.dim() == 1:
        ids = ids[None]
        mel = mel[None] if mel is not None and mel.dim() == 2 else mel
    if ids.shape[1] < 2:
        raise ValueError(f"continuation_nll needs at least 2 tokens per sequence, got {ids.shape[1]}")
    start = max(0, ids.shape[1] - (model.config.context + 1))  # where the kept window starts
    first = max(prompt - start - 1, 0)  # the first scored target, counted among the window's targets
    if first >= ids.shape[1] - start - 1:
        raise ValueError(f"continuation_nll: nothing to score after a prompt of {prompt} of {ids.shape[1]} tokens")
    ids = ids[:, start:]
    mel = mel[:, start:] if mel is not None else None
    device = next(model.parameters()).device
    ids = ids.to(device)
    mel = mel.to(device) if mel is not None else None
    with evaluation_mode(model):
        logits, _ = model(ids[:, :-1], mel=mel[:, :-1] if mel is not None else None)
    logits, targets = logits[:, first:].float(), ids[:, 1 + first :]
    return float(F.cross_entropy(logits.flatten(0, 1), targets.flatten()))


def token_entropy(tokens) -> float:
    """Entropy, in nats, of the empirical distribution of the tokens (all positions pooled).

    0 for a single repeated token, ``log(n)`` for ``n`` tokens equally often.

    >>> import math, torch
    >>> token_entropy(torch.tensor([5, 5, 5, 5]))
    0.0
    >>> round(token_entropy(torch.tensor([0, 1, 2, 3])), 4) == round(math.log(4), 4)
    True
    """
    flat = _as_tokens(tokens).reshape(-1)
    if flat.numel() == 0:
        return 0.0
    _, counts = torch.unique(flat, return_counts=True)
    p = counts.double() / flat.numel()
    return max(0.0, float(-(p * p.log()).sum()))


def repetition_rate(tokens) -> float:
    """Share of positions (from the second on, per sequence) whose token equals the previous one.

    ``tokens`` is [T] or [B, T]; 0 when no sequence has two tokens.

    >>> import torch
    >>> repetition_rate(torch.tensor([1, 1, 1, 2]))      # 2 of 3 positions repeat
    0.6666666666666666
    >>> repetition_rate(torch.tensor([[1, 2], [3, 3]]))  # 1 of 2
    0.5
    """
    ids = _as_tokens(tokens)
    if ids.dim() == 0 or ids.shape[-1] < 2:
        return 0.0
    same = ids[..., 1:] == ids[..., :-1]
    return float(same.double().mean())


def quality_proxies(
    model: torch.nn.Module, tokens: torch.Tensor, mel: torch.Tensor | None = None, prompt: int = 0
) -> dict:
    """The three proxies of one batch of sequences: ``{"nll", "entropy", "repetition"}``.

    ``nll`` is ``continuation_nll`` (tokens after the first ``prompt``, under ``model``);
    ``entropy`` and ``repetition`` are measured on those tokens alone. Set generated and
    real continuations of the same prompts side by side, scored by the same model::

        rows = {"generated": quality_proxies(gpt_l, generated), "real": quality_proxies(gpt_l, real)}

    >>> import torch, wgpt_lite as wl
    >>> model = wl.build_model("gpt-s", "smoke", vocab_size=16)
    >>> stuck = torch.tensor([[3, 1, 4, 1, 5, 5, 5, 5, 5]])   # a prompt of 4, then one token over and over
    >>> scores = quality_proxies(model, stuck, prompt=4)
    >>> sorted(scores), scores["entropy"], scores["repetition"]
    (['entropy', 'nll', 'repetition'], 0.0, 1.0)
    """
    continuation = _as_tokens(tokens)[..., prompt:]
    return {
        "nll": continuation_nll(model, tokens, mel, prompt=prompt),
        "entropy": token_entropy(continuation),
        "repetition": repetition_rate(continuation),
    }


def continue_clip(
    model: GPT, tokenizer, wav: torch.Tensor, seconds: float, **sampling
) -> tuple[Generation, torch.Tensor]:
    """Continue the audio ``wav`` (24 kHz) by ``seconds``: its tokens (and mel) are the prompt.

    Returns the generation and the audio of prompt + continuation, rendered from the tokens
    (``tokens_to_audio``: EnCodec's decoder, or melvq centroids through Griffin-Lim), so that
    the prompt and the continuation sound alike. ``sampling``: ``generate``'s options.
    """
    tokens, mel = clip_features(wav, tokenizer)
    out = generate(model, tokens, round(seconds * FRAME_RATE), mel=mel, tokenizer=tokenizer, **sampling)
    return out, tokens_to_audio(out.tokens, tokenizer)


@torch.no_grad()
def closed_loop_mismatch(model: GPT, tokenizer, tokens: torch.Tensor, mel: torch.Tensor, source=None) -> dict:
    """On a real clip (``tokens`` [T], ``mel`` [T, n_mels], cropped to the context + 1): how far the mel
    that generation remakes from tokens is from the real mel, and what it costs the hybrid.

    Returns ``mel_abs_diff`` (mean |remade - real|, log-mel units), ``nll_real_mel`` and
    ``nll_remade_mel`` (nats/token on the clip's own next tokens) and ``frames``.
    """
    source = source or mel_source(model, tokenizer)
    ids = tokens.long().reshape(1, -1)[:, : model.config.context + 1]
    real = mel.float().reshape(1, -1, mel.shape[-1])[:, : ids.shape[1]]
    with evaluation_mode(model):
        remade = source.whole(ids).to(real.device)
        inputs, targets = ids[:, :-1], ids[:, 1:]
        nll_real = model(inputs, mel=real[:, :-1], targets=targets)[1]
        nll_remade = model(inputs, mel=remade[:, :-1], targets=targets)[1]
    return {
        "mel_abs_diff": float((remade - real).abs().mean()),
        "nll_real_mel": float(nll_real),
        "nll_remade_mel": float(nll_remade),
        "frames": ids.shape[1],
    }
