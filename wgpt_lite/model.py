"""The three language models of Whisper-GPT: GPT-S, GPT-L (tokens only) and the hybrid.

Read it like nanoGPT's ``model.py``: one config, four small modules, two models. The
paper's idea lives in ``MelEncoder`` and ``WhisperGPT.embed``; the sizes are in ``presets.py``.

- ``GPT`` predicts token ``t + 1`` from tokens ``0..t``.
- ``WhisperGPT`` predicts token ``t + 1`` from tokens ``0..t`` *and* log-mel frames
  ``0..t``. Each mel frame goes through a few small causal decoder blocks of width
  ``d_mel``; the result is concatenated with a token embedding of width
  ``n_embd - d_mel`` ("early fusion"), and from there on the model is exactly GPT.

For generation, ``forward`` also takes an optional ``KVCache``: the keys and values of
the frames already seen, so that a new frame costs one row of attention instead of the
whole window (``wgpt_lite.generate`` uses it; training never does).

Both return ``(logits, loss)``; ``loss`` is ``None`` without targets::

    >>> import torch, wgpt_lite as wl
    >>> model = wl.build_model("hybrid", preset="smoke")
    >>> ids, mel = torch.randint(0, 1024, (2, 17)), torch.randn(2, 17, 64)
    >>> logits, loss = model(ids[:, :-1], mel=mel[:, :-1], targets=ids[:, 1:])
    >>> logits.shape
    torch.Size([2, 16, 1024])
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from wgpt_lite.audio import N_MELS
from wgpt_lite.infra.errors import ModelError


@dataclass
class ModelConfig:
    vocab_size: int = 1024  # EnCodec's codebook 0 (or the melvq stand-in's k)
    context: int = 512  # frames the model sees at once (512 frames = 6.8 s at 75 Hz)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    dropout: float = 0.0
    # Hybrid only (d_mel = 0 means a tokens-only GPT).
    d_mel: int = 0  # width of the mel blocks, and of the mel part of the fused embedding
    n_mel_layer: int = 0
    n_mel_head: int = 1
    n_mels: int = N_MELS  # mel bins per frame
    # "concat": [mel vector ; token embedding of width n_embd - d_mel] (the paper's early fusion);
    # "sum": mel vector projected to n_embd, added to a full-width token embedding (an ablation).
    fusion: str = "concat"

    @property
    def hybrid(self) -> bool:
        return self.d_mel > 0


class LayerCache:
    """The keys and values one attention layer has computed so far: [B, n_head, frames, head_size]."""

    def __init__(self):
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    @property
    def frames(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new frames' keys and values; return all of them, old then new."""
        if self.k is not None:
            k, v = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)
        self.k, self.v = k, v
        return k, v


class KVCache:
    """What a model has seen during generation: one ``LayerCache`` per decoder block (and per
    mel block for the hybrid), and ``frames``, the number of positions already inside.

    ``model(ids, mel=mel, cache=cache)`` then takes only the *new* frames, at positions
    ``cache.frames..``, and returns their logits. With learned absolute positions a cache
    is valid until the window reaches ``config.context``; then start a new one.
    """

    def __init__(self, config: ModelConfig):
        self.blocks = [LayerCache() for _ in range(config.n_layer)]
        self.mel_blocks = [LayerCache() for _ in range(config.n_mel_layer if config.hybrid else 0)]
        self.frames = 0


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, n_head: int, dropout: float):
        super().__init__()
        if n_head < 1 or width % n_head:
            raise ModelError(f"a width of {width} does not split into {n_head} attention heads; choose a divisor")
        self.n_head = n_head
        self.dropout = dropout
        self.c_attn = nn.Linear(width, 3 * width)  # query, key, value in one matmul
        self.c_proj = nn.Linear(width, width)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # [B, T, C] -> [B, n_head, T, head_size]
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        past = 0
        if cache is not None:  # generation: attend to the cached frames too
            past = cache.frames
            k, v = cache.append(k, v)
        mask = None  # no past: the usual causal mask; one new frame: it may see every key
        if past and T > 1:  # several new frames after a past: new frame i sees keys 0..past + i
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0, is_causal=past == 0
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, width: int, n_head: int, dropout: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, n_head, dropout)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = MLP(width, dropout)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        h = self.ln_1(x)
        x = x + (self.attn(h) if cache is None else self.attn(h, cache))  # the cache only in generation
        return x + self.mlp(self.ln_2(x))


class MelEncoder(nn.Module):
    """Log-mel frames [B, T, n_mels] -> one vector per frame [B, T, d_mel], causally.

    Lightweight *decoder* blocks (causal self-attention), not Whisper's bidirectional
    encoder: vector ``t`` depends on mel frames ``0..t`` only.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.proj = nn.Linear(config.n_mels, config.d_mel)
        self.wpe = nn.Embedding(config.context, config.d_mel)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            Block(config.d_mel, config.n_mel_head, config.dropout) for _ in range(config.n_mel_layer)
        )
        # No final LayerNorm: its unit-scale output would sit next to token embeddings
        # initialised at 0.02 and drown them; the decoder's first ln_1 normalises the fused
        # vector anyway. Measured with melvq tokens on mini-speech (300 steps, commit c3c226d):
        # with it the hybrid ended at 3.98 nats/token validation NLL, without it 3.67 (GPT-S
        # 3.84). melvq tokens favour the hybrid by construction, so these numbers show what
        # the LayerNorm cost, not what the mel gains over GPT-S.

    def forward(self, mel: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        start = cache.frames if cache is not None else 0  # with a cache: only the new frames
        pos = torch.arange(start, start + mel.shape[1], device=mel.device)
        x = self.drop(self.proj(mel) + self.wpe(pos))  # [B, T, d_mel]
        for i, block in enumerate(self.blocks):
            x = block(x, cache.mel_blocks[i] if cache is not None else None)
        return x


def init_gpt2_(module: nn.Module, n_layer: int) -> None:
    """GPT-2's init, in place: weights N(0, 0.02), biases 0, LayerNorm gains 1, and the
    projections that write into the residual stream scaled by 1/sqrt(2 n_layer) so the
    stream's variance does not grow with depth."""
    for name, param in module.named_parameters():
        if name.endswith("c_proj.weight"):
            nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
        elif param.dim() >= 2:  # Linear and Embedding weights
            nn.init.normal_(param, mean=0.0, std=0.02)
        elif name.endswith("bias"):
            nn.init.zeros_(param)


class GPT(nn.Module):
    """Decoder-only LM over audio tokens: ``model(ids, targets=...) -> (logits, loss)``.

    ``mel`` is accepted and ignored, so that training and evaluation code can call
    every model the same way.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        # With concatenation the hybrid fills the rest of the width with its mel vector.
        token_width = config.n_embd - config.d_mel if config.fusion == "concat" else config.n_embd
        self.wte = nn.Embedding(config.vocab_size, token_width)
        self.wpe = nn.Embedding(config.context, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config.n_embd, config.n_head, config.dropout) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)  # untied from wte
        init_gpt2_(self, config.n_layer)

    def num_params(self) -> int:
        """Every parameter, embeddings and head included (the paper's counts)."""
        return sum(p.numel() for p in self.parameters())

    def embed(self, ids: torch.Tensor, mel: torch.Tensor | None, cache: KVCache | None = None) -> torch.Tensor:
        return self.wte(ids)  # [B, T, n_embd]; the hybrid overrides this

    def forward(
        self,
        ids: torch.Tensor,
        mel: torch.Tensor | None = None,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ):
        B, T = ids.shape
        start = cache.frames if cache is not None else 0  # with a cache, ids are the frames after it
        if start + T > self.config.context:
            raise ModelError(
                f"{start + T} frames do not fit the model's context of {self.config.context}; crop the input"
            )
        pos = torch.arange(start, start + T, device=ids.device)
        x = self.drop(self.embed(ids, mel, cache) + self.wpe(pos))  # [B, T, n_embd]
        for i, block in enumerate(self.blocks):
            x = block(x, cache.blocks[i] if cache is not None else None)
        if cache is not None:
            cache.frames += T
        logits = self.lm_head(self.ln_f(x))  # [B, T, vocab_size]
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().view(B * T, -1), targets.reshape(B * T))
        return logits, loss


class WhisperGPT(GPT):
    """The hybrid: GPT whose input at frame ``t`` is [mel encoder(mel 0..t) ; token embedding(t)].

    ``model(ids, mel=mel, targets=...)`` with ``mel`` [B, T, n_mels] aligned 1:1 with ``ids``.
    """

    def __init__(self, config: ModelConfig):
        if not config.hybrid:
            raise ModelError("WhisperGPT needs d_mel > 0; use GPT for a tokens-only model")
        if config.fusion not in ("concat", "sum"):
            raise ModelError(f"unknown fusion {config.fusion!r}; choose concat (the paper's) or sum")
        if config.fusion == "concat" and config.d_mel >= config.n_embd:
            raise ModelError(
                f"d_mel {config.d_mel} leaves the tokens no width: "
                f"concatenated, it must be below n_embd {config.n_embd}"
            )
        super().__init__(config)
        self.mel_encoder = MelEncoder(config)
        self.mel_to_embd = nn.Linear(config.d_mel, config.n_embd) if config.fusion == "sum" else None
        init_gpt2_(self.mel_encoder, config.n_mel_layer)
        if self.mel_to_embd is not None:
            init_gpt2_(self.mel_to_embd, config.n_layer)

    def embed(self, ids: torch.Tensor, mel: torch.Tensor | None, cache: KVCache | None = None) -> torch.Tensor:
        """Where the mel enters the model: [mel encoder(mel) ; token embedding] at every frame."""
        if mel is None or mel.shape[:2] != ids.shape:
            got = None if mel is None else tuple(mel.shape)
            raise ModelError(f"the hybrid needs mel frames aligned with the tokens: ids {tuple(ids.shape)}, mel {got}")
        mel_vectors = self.mel_encoder(mel.to(self.lm_head.weight.dtype), cache)  # [B, T, d_mel]
        if self.mel_to_embd is not None:  # fusion by sum
            return self.mel_to_embd(mel_vectors) + self.wte(ids)
        return torch.cat([mel_vectors, self.wte(ids)], dim=-1)  # [B, T, n_embd]


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode (no dropout) inside the block, and back in the mode it was in after,
    error or not: scoring and sampling never leave a model that was training switched off."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def from_config(config: ModelConfig) -> GPT:
    """The model a config describes: ``WhisperGPT`` when it has a mel path, else ``GPT``.

    Sizes by name (``"gpt-s"`` at ``"mini"``...) are in ``wgpt_lite.presets``.
    """
    return WhisperGPT(config) if config.hybrid else GPT(config)
