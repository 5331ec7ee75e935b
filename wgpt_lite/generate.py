"""Sampling audio tokens from a model: continue a prompt, nanoGPT ``generate`` style.

    >>> import torch, wgpt_lite as wl
    >>> from wgpt_lite.generate import generate
    >>> model = wl.build_model("gpt-s", "smoke")
    >>> out = generate(model, torch.randint(0, 1024, (2, 10)), n_frames=5, top_k=50, seed=0)
    >>> out.tokens.shape                              # the prompts, then 5 new frames each
    torch.Size([2, 15])

Each step samples token ``t + 1`` from the logits at frame ``t`` (``temperature``, then
``top_k``, then ``top_p``; ``greedy=True`` takes the argmax), with a ``torch.Generator``
seeded by ``seed`` so that the same seed gives the same sample.

**KV cache.** The window is encoded once; each new frame then runs through the model alone,
attending to the keys and values the cache holds (decoder blocks, and the hybrid's mel
blocks). ``use_cache=False`` re-encodes the whole window every step: same tokens, slower.

**Sliding window.** Positions are learned absolute embeddings (``wpe``), so a cache is only
valid while the window starts at position 0. When the sequence outgrows ``config.context``
the window jumps: it keeps the last ``keep`` frames (default ``context // 2``), re-encodes
them *without* cache at positions ``0..keep - 1``, and the cache grows from there again. One
re-encoding per ``context - keep`` new frames; ``keep=context`` slides by one frame each step
(nanoGPT's ``idx[:, -context:]``, a full re-encoding every step).

**The hybrid closes the loop on its own output.** After sampling token ``t + 1`` it needs mel
frame ``t + 1``, made from tokens ``<= t + 1`` only (``mel_source``):

- MelVQ (``decodes_to == "log-mel"``): the token's centroid spectrum (``CentroidMel``);
- EnCodec (``decodes_to == "audio"``): the last ``ENCODEC_MEL_WINDOW`` tokens decoded to audio,
  and the causal log-mel frame of its last 320 samples, as in training (``DecodedAudioMel``).

``closed_loop_mismatch`` (``wgpt_lite/experiment/generation_quality.py``) measures what that costs on a
real clip; ``continue_clip`` there continues a recording and renders it to audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from wgpt_lite.audio import HOP, LOG_FLOOR, log_mel, log_scale
from wgpt_lite.infra.errors import ModelError, TokenizerError
from wgpt_lite.model import GPT, KVCache, evaluation_mode

# Tokens decoded to make one EnCodec mel frame. Measured against a full decode (untrained
# EnCodec, 20 s of a gliding tone + noise, docs/benchmarks.md "Generation"): the decoder's
# causal convolutions and LSTM forget the distant past, so a recent window gives the same
# frame: 16 frames (0.21 s) differ from a full decode by 6e-5 on average (1e-5 at 32,
# 1.4e-3 at 8), against 0.93 between a decode and the real mel; 16 frames cost ~10 ms a frame.
ENCODEC_MEL_WINDOW = 16
SILENT_MEL = float(log_scale(torch.tensor(LOG_FLOOR)))  # log-mel of digital silence: -1.0


# ---------------------------------------------------------------------------
# Where the hybrid's next mel frame comes from


class CentroidMel:
    """MelVQ: mel frame ``t`` is token ``t``'s centroid spectrum."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens [B, t + 1] -> mel frame t [B, n_mels] (from token t alone)."""
        return self.tokenizer.decode(tokens[:, -1].cpu()).float()

    def whole(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens [B, T] -> every frame's mel [B, T, n_mels], as generation would make them."""
        return self.tokenizer.decode(tokens.cpu()).float()


class DecodedAudioMel:
    """EnCodec: decode the last ``window`` tokens to audio; mel frame ``t`` is the causal log-mel
    frame of the ``N_FFT`` samples ending at ``(t + 1) * 320``, as ``log_mel`` makes it in training."""

    def __init__(self, tokenizer, window: int = ENCODEC_MEL_WINDOW):
        if window < 4:  # N_FFT = 1024 samples reach 3.2 frames back
            raise ModelError(f"an EnCodec mel window of {window} frames is shorter than one FFT window (4 frames)")
        self.tokenizer = tokenizer
        self.window = window

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        recent = tokens[:, -self.window :].cpu()
        return torch.stack([log_mel(self.tokenizer.decode(row))[-1] for row in recent])

    def whole(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.stack([self(tokens[:, : t + 1]) for t in range(tokens.shape[1])], dim=1)


def mel_source(model: GPT, tokenizer=None, window: int = ENCODEC_MEL_WINDOW):
    """How generation makes the hybrid's next mel frame (module docstring); None for a tokens-only GPT."""
    if not model.config.hybrid:
        return None
    kind = getattr(tokenizer, "decodes_to", None)
    if kind == "log-mel":
        return CentroidMel(tokenizer)
    if kind == "audio":
        return DecodedAudioMel(tokenizer, window)
    raise TokenizerError(
        "the hybrid needs a mel frame for each token it generates: give the tokenizer it was trained with "
        f"(MelVQ or EnCodec), not {tokenizer!r}"
    )


# ---------------------------------------------------------------------------
# Checks


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if not temperature > 0:
        raise ModelError(f"temperature must be > 0, got {temperature}; use greedy=True for the argmax")
    if top_k is not None and top_k < 1:
        raise ModelError(f"top_k must be >= 1 (or None for no limit), got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ModelError(f"top_p must be in (0, 1] (1 keeps every token), got {top_p}")


def silence_token(tokenizer) -> int:
    """The token the tokenizer gives digital silence."""
    return int(tokenizer.encode(torch.zeros(8 * HOP))[-1])


def check_prompt(model: GPT, tokens: torch.Tensor, mel: torch.Tensor | None, tokenizer) -> None:
    B, T = tokens.shape
    context = model.config.context
    if T == 0 or B == 0:
        raise ModelError("the prompt is empty: give at least one frame of tokens to continue")
    if T > context:
        raise ModelError(
            f"the prompt has {T} frames; this model's context is {context}, so a prompt may be at most "
            f"{context} frames ({context / 75:.1f} s): keep its last {context} frames"
        )
    if int(tokens.min()) < 0 or int(tokens.max()) >= model.config.vocab_size:
        raise ModelError(
            f"prompt tokens span {int(tokens.min())}..{int(tokens.max())}, outside the model's vocabulary "
            f"0..{model.config.vocab_size - 1}: they come from another tokenizer"
        )
    if tokenizer is not None and tokenizer.vocab_size != model.config.vocab_size:
        raise TokenizerError(
            f"the tokenizer has {tokenizer.vocab_size} tokens, the model {model.config.vocab_size}: "
            "give the tokenizer the model was trained with"
        )
    silent = mel is not None and float(mel.max()) <= SILENT_MEL + 1e-3
    if tokenizer is not None and not silent:
        silent = bool((tokens == silence_token(tokenizer)).all())
    if silent:
        raise ModelError("the prompt is silence: there is nothing to continue; give a clip with sound in it")
    if model.config.hybrid and mel is not None and mel.shape[:2] != tokens.shape:
        raise ModelError(f"the prompt's mel {tuple(mel.shape)} is not aligned with its tokens {tuple(tokens.shape)}")


# ---------------------------------------------------------------------------
# Sampling


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Logits [B, vocab] -> next tokens [B]."""
    if greedy:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        outside = probs.cumsum(dim=-1) - probs >= top_p  # the mass before a token already reaches top_p
        sorted_logits = sorted_logits.masked_fill(outside, float("-inf"))  # the most likely token always stays
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


@dataclass
class Generation:
    tokens: torch.Tensor  # [B, prompt + n_frames] (or [prompt + n_frames] for one 1-D prompt)
    mel: torch.Tensor | None  # the hybrid's mel frames, the prompt's then the remade ones; None for GPT
    slides: int  # times the window jumped (each one a re-encoding without cache)


@torch.no_grad()
def generate(
    model: GPT,
    tokens: torch.Tensor,
    n_frames: int,
    *,
    mel: torch.Tensor | None = None,
    tokenizer=None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int | None = None,
    use_cache: bool = True,
    keep: int | None = None,
    source=None,
) -> Generation:
    """Continue a batch of prompts (``tokens`` [B, T] or [T], ``mel`` [B, T, n_mels] for the hybrid)
    by ``n_frames`` frames. The hybrid without ``mel`` remakes the prompt's mel from its tokens.
    ``source`` overrides ``mel_source(model, tokenizer)``; ``keep``: see the module docstring."""
    check_sampling(temperature, top_k, top_p)
    if n_frames < 1:
        raise ModelError(f"n_frames must be at least 1 (frames to generate), got {n_frames}")
    one = tokens.dim() == 1
    ids = tokens.long()[None] if one else tokens.long()
    if mel is not None and mel.dim() == 2:
        mel = mel[None]
    check_prompt(model, ids, mel, tokenizer)
    context = model.config.context
    keep = context // 2 if keep is None else keep
    if not 1 <= keep <= context:
        raise ModelError(f"keep must be between 1 and the context ({context}), got {keep}")
    device = model.lm_head.weight.device
    ids = ids.to(device)
    hybrid = model.config.hybrid
    mels = None
    if hybrid:
        source = source or mel_source(model, tokenizer)
        if mel is None:
            if not hasattr(source, "whole"):
                raise ModelError("give the prompt's mel: this mel source cannot remake it from tokens")
            mel = source.whole(ids)
        mels = mel.float().to(device)
    generator = None if greedy else torch.Generator(device=device)
    if generator is not None and seed is not None:
        generator.manual_seed(seed)

    start, slides, cache = 0, 0, None  # the window is ids[:, start:]

    def encode_window() -> torch.Tensor:  # the whole window from position 0, into a fresh cache
        nonlocal cache
        cache = KVCache(model.config) if use_cache else None
        window_mel = mels[:, start:] if hybrid else None
        return model(ids[:, start:], mel=window_mel, cache=cache)[0][:, -1]

    with evaluation_mode(model):
        logits = encode_window()
        for step in range(n_frames):
            next_ids = sample_next(logits, temperature, top_k, top_p, greedy, generator)
            ids = torch.cat([ids, next_ids[:, None]], dim=1)
            if hybrid:  # close the loop: mel frame t + 1 from tokens <= t + 1
                mels = torch.cat([mels, source(ids).to(device)[:, None]], dim=1)
            if step == n_frames - 1:
                break
            if ids.shape[1] - start > context:  # the window is full: jump, re-encode without cache
                start, slides = ids.shape[1] - keep, slides + 1
                logits = encode_window()
            elif use_cache:  # only the new frame goes through the model
                new_mel = mels[:, -1:] if hybrid else None
                logits = model(ids[:, -1:], mel=new_mel, cache=cache)[0][:, -1]
            else:
                logits = encode_window()
    out_mel = mels[0] if (one and hybrid) else mels
    return Generation(ids[0] if one else ids, out_mel, slides)


# ---------------------------------------------------------------------------
# From a checkpoint and a clip to audio
