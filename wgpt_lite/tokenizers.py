"""Coarse audio tokens, one per 320-sample frame, aligned with the log-mel frames.

Three tokenizers share one small protocol (``name``, ``vocab_size``, ``frame_rate``,
``encode(wav) -> LongTensor[frames]``, ``decode(tokens)``, ``settings()``):

- ``EncodecTokenizer``: the paper's tokens, codebook 0 of EnCodec's causal 24 kHz
  model (vocabulary 1024). ``decode`` gives audio back.
- ``MelVQTokenizer``: an offline stand-in for machines that cannot get EnCodec's
  weights: k-means over causal log-mel frames of a training split. ``decode`` gives
  the centroid spectra (a log-mel image), not audio. Results with it are *not* the
  paper's numbers.
- ``CodecTokenizer`` (codec.py): codebook 0 of the kit's own small causal codec, trained
  on the mini corpora's training splits; its weights are committed. ``decode`` gives audio.

``settings()`` identifies the tokens exactly: MelVQ's codebook hash, or the sha256 of the
EnCodec weights (of the file they were loaded from; of the tensors for a model made in
memory). Feature caches and checkpoints record it; ``describe_tokenizer`` says it in words.

``get_tokenizer("auto")`` picks EnCodec when its weights load, else the kit's codec, and says
which and why in ``tokenizer.auto_reason``; ``auto_tokenizer()`` tells which without building a
model. EnCodec runs on a CUDA GPU when there is one (``default_encodec_device``); its tokens
always come back on the CPU. ``clip_features(wav, tok)``: one clip's tokens and log-mel, aligned.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import torch

from wgpt_lite.audio import FRAME_RATE, HOP, N_MELS, crop_to_frames, log_mel, mel_settings
from wgpt_lite.codec import CodecTokenizer
from wgpt_lite.infra.encodec_shim import import_encodec
from wgpt_lite.infra.encodec_weights import (
    default_encodec_device,
    download_checkpoint,
    encodec_checkpoint_candidates,
    load_encodec_model,
    state_dict_sha256,
    weights_sha256,
)
from wgpt_lite.infra.errors import TokenizerError
from wgpt_lite.infra.files import load_tensors, save_tensors
from wgpt_lite.infra.settings import offline

TOKENIZERS = ("auto", "encodec", "melvq", "codec")
ENCODEC_BANDWIDTH = 1.5  # kbps: the smallest setting, 2 codebooks; we keep codebook 0
# EnCodec's convolutions reflect-pad on the left, so its first ~6 frames of a clip
# see up to 6 frames *ahead* (measured: tests/test_tokenizers.py). Encoding behind
# this much silence and dropping those codes makes every kept frame strictly causal.
ENCODEC_SILENCE_FRAMES = 8


class Tokenizer(Protocol):
    name: str
    vocab_size: int
    frame_rate: int

    def encode(self, wav: torch.Tensor) -> torch.Tensor: ...

    def decode(self, tokens: torch.Tensor) -> torch.Tensor: ...

    def settings(self) -> dict: ...


# ---------------------------------------------------------------------------
# EnCodec


class EncodecTokenizer:
    """Codebook 0 of EnCodec 24 kHz: 75 tokens a second, vocabulary 1024.

    >>> import torch
    >>> wav = torch.randn(24_000)                     # one second
    >>> tok = EncodecTokenizer.untrained(wav)         # random weights; EncodecTokenizer() loads the real ones
    >>> tok.encode(wav).shape
    torch.Size([75])
    """

    name = "encodec"
    vocab_size = 1024
    frame_rate = FRAME_RATE
    decodes_to = "audio"

    def __init__(
        self, model: torch.nn.Module | None = None, device: str | torch.device | None = None, weights: str = ""
    ):
        self.device = torch.device(device) if device else default_encodec_device()
        self.model = (model if model is not None else load_encodec_model()).to(self.device).eval()
        self.model.set_target_bandwidth(ENCODEC_BANDWIDTH)
        # where the weights came from, for people; their hash is what identifies the tokens
        self.weights = weights or next((str(p) for p in encodec_checkpoint_candidates() if p.is_file()), "hub")
        from_file = Path(self.weights).is_file()
        self.weights_sha256 = weights_sha256(Path(self.weights)) if from_file else state_dict_sha256(self.model)

    @classmethod
    def untrained(
        cls, calibration_wav: torch.Tensor, seed: int = 0, device: str | torch.device | None = None
    ) -> EncodecTokenizer:
        """A random-init EnCodec whose codebooks are k-means-initialised on ``calibration_wav``.

        Its codes mean nothing; it exists so that shapes, alignment, causality and speed
        can be checked where the real weights cannot be downloaded. (Without the
        calibration pass every code of a random-init EnCodec is 0.) It is calibrated on
        the CPU, so the same seed gives the same weights on every ``device``.
        """
        with torch.random.fork_rng(), torch.no_grad():  # seeded without touching the caller's RNG
            torch.manual_seed(seed)
            model = load_encodec_model(pretrained=False)
            model.set_target_bandwidth(ENCODEC_BANDWIDTH)
            for layer in model.quantizer.vq.layers:  # the codes mean nothing anyway: 3 k-means
                layer._codebook.kmeans_iters = 3  # steps instead of 50 keep this at ~1 s
            model.train()  # in train mode, the quantizer's first call initialises its codebooks
            embeddings = model.encoder(crop_to_frames(calibration_wav.float())[None, None])
            model.quantizer(embeddings, model.frame_rate, model.bandwidth)
        return cls(model.eval(), device=device, weights=f"untrained(seed={seed})")

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """[samples] (or [batch, samples]) at 24 kHz -> LongTensor [frames] ([batch, frames])."""
        return self.encode_codes(wav)[0]

    @torch.no_grad()
    def encode_codes(self, wav: torch.Tensor) -> torch.Tensor:
        """[samples] ([batch, samples]) -> every codebook at ``ENCODEC_BANDWIDTH``, [2, frames] ([2, batch, frames])."""
        wav = crop_to_frames(wav.float()).to(self.device)
        batched = wav.dim() == 2
        wav = torch.nn.functional.pad(wav.reshape(-1, 1, wav.shape[-1]), (ENCODEC_SILENCE_FRAMES * HOP, 0))
        frames = self.model.encode(wav)
        # one segment at 24 kHz: [batch, n_q, frames] -> [n_q, batch, frames]
        codes = frames[0][0][..., ENCODEC_SILENCE_FRAMES:].transpose(0, 1)
        return (codes if batched else codes[:, 0]).long().cpu()

    def encode_batch(self, wavs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Clips of any lengths [samples] -> their tokens [samples // 320], encoded as one batch.

        The clips are right-padded with zeros to the longest one. EnCodec 24 kHz is causal
        (causal convolutions, a one-way LSTM), so the padding after a clip reaches none
        of its tokens (tests/test_tokenizers.py). Grouping clips of similar length keeps
        the padding, which is computed and thrown away, small.
        """
        wavs = [crop_to_frames(wav.float()) for wav in wavs]
        codes = self.encode(torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True))
        return [row[: wav.shape[-1] // HOP] for row, wav in zip(codes, wavs)]

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """LongTensor [frames] -> waveform [frames * 320] from the coarse codebook alone."""
        return self.decode_codes(tokens.reshape(1, -1))

    @torch.no_grad()
    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes of the first n codebooks [n, frames] -> waveform [frames * 320]."""
        batch = codes.long().reshape(1, codes.shape[0], -1).to(self.device)  # encodec's [batch, n_q, frames]
        return self.model.decode([(batch, None)])[0, 0, : codes.shape[-1] * HOP].cpu()

    def settings(self) -> dict:
        return {"name": self.name, "weights_sha256": self.weights_sha256, "bandwidth": ENCODEC_BANDWIDTH, "codebook": 0}


# ---------------------------------------------------------------------------
# MelVQ: k-means over causal log-mel frames


class MelVQTokenizer:
    """k-means tokens over causal log-mel frames: the offline stand-in for EnCodec.

    >>> import torch, wgpt_lite as wl
    >>> wav = torch.randn(24_000)
    >>> tok = MelVQTokenizer(k=16).fit([wl.log_mel(wav)], seed=0)
    >>> ids = tok.encode(wav)                 # LongTensor [frames], token t from mel frame t only
    >>> ids.shape, tok.decode(ids).shape      # centroid spectra [frames, 64], for display
    (torch.Size([75]), torch.Size([75, 64]))
    """

    name = "melvq"
    frame_rate = FRAME_RATE
    decodes_to = "log-mel"

    def __init__(self, k: int = 1024, codebook: torch.Tensor | None = None, seed: int | None = None):
        self.vocab_size = k if codebook is None else codebook.shape[0]
        self.codebook = codebook  # [k, N_MELS] centroids, None until fitted
        self.seed = seed
        self.path: Path | None = None  # the file it was loaded from, if any

    @property
    def fitted(self) -> bool:
        return self.codebook is not None

    def fit(
        self, mels: Iterable[torch.Tensor] | torch.Tensor, seed: int = 0, iters: int = 25, max_frames: int = 200_000
    ) -> MelVQTokenizer:
        """Fit the codebook by k-means on log-mel frames ([frames, 64] tensors, or one [N, 64])."""
        frames = mels if torch.is_tensor(mels) else torch.cat([m.reshape(-1, N_MELS).float() for m in mels])
        frames = frames.reshape(-1, N_MELS).float()
        generator = torch.Generator().manual_seed(seed)
        if frames.shape[0] > max_frames:  # a random subset keeps fitting to seconds
            frames = frames[torch.randperm(frames.shape[0], generator=generator)[:max_frames]]
        if frames.shape[0] < self.vocab_size:
            raise TokenizerError(
                f"MelVQ needs at least k={self.vocab_size} mel frames to fit, got {frames.shape[0]} "
                f"({frames.shape[0] / FRAME_RATE:.1f} s of audio); give it more audio or a smaller k"
            )
        self.codebook = kmeans(frames, self.vocab_size, iters, generator)
        self.seed = seed
        return self

    def encode_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel [..., frames, 64] -> LongTensor [..., frames]: each frame's nearest centroid."""
        if not self.fitted:
            raise TokenizerError(
                "this MelVQ tokenizer is not fitted: call .fit(mels) on a training split, load one with "
                "MelVQTokenizer.load(path), or use wl.corpus_tokenizer(corpus) which fits and caches it"
            )
        return nearest_centroid(mel.float(), self.codebook.to(mel.device))

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveform [..., samples] at 24 kHz -> LongTensor [..., samples // 320]."""
        return self.encode_mel(log_mel(wav)).cpu()

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens [..., frames] -> centroid log-mel spectra [..., frames, 64] (not audio)."""
        return self.codebook[tokens.long()]

    def settings(self) -> dict:
        digest = hashlib.sha256(self.codebook.numpy().tobytes()).hexdigest() if self.fitted else None
        return {"name": self.name, "k": self.vocab_size, "codebook_sha256": digest, **mel_settings()}

    def save(self, path: str | os.PathLike, made_from: dict | None = None) -> None:
        """Write the fitted codebook, atomically, with ``made_from``: what it was fitted on (corpus fingerprint...)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = {"codebook": self.codebook, "seed": self.seed, "mel_settings": mel_settings(), "made_from": made_from}
        save_tensors(path, blob)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MelVQTokenizer:
        path = Path(path)
        if not path.is_file():
            raise TokenizerError(f"{path}: no MelVQ codebook there; fit one with MelVQTokenizer.fit and .save it")

        def not_a_codebook(reason: str) -> TokenizerError:
            return TokenizerError(f"{path}: not a MelVQ codebook file ({reason}); delete it and fit again")

        blob = load_tensors(path, not_a_codebook)
        if not isinstance(blob, dict) or not torch.is_tensor(blob.get("codebook")):
            raise not_a_codebook("no codebook tensor in it")
        codebook = blob["codebook"]
        if blob.get("mel_settings") != mel_settings():
            raise TokenizerError(
                f"{path}: fitted with other mel settings {blob.get('mel_settings')} than this kit's "
                f"{mel_settings()}; delete it and fit again"
            )
        tok = cls(codebook=codebook.float(), seed=blob.get("seed"))
        tok.path = path
        return tok


def nearest_centroid(x: torch.Tensor, centroids: torch.Tensor, chunk: int = 65_536) -> torch.Tensor:
    """Index of the nearest centroid (squared Euclidean) for each row of x [..., D]."""
    flat = x.reshape(-1, x.shape[-1])
    c_sq = (centroids**2).sum(1)
    out = torch.empty(flat.shape[0], dtype=torch.long, device=x.device)
    for start in range(0, flat.shape[0], chunk):  # bounded memory: chunk x k distances at a time
        rows = flat[start : start + chunk]
        out[start : start + chunk] = (c_sq[None, :] - 2 * rows @ centroids.T).argmin(1)
    return out.reshape(x.shape[:-1])


def kmeans(x: torch.Tensor, k: int, iters: int, generator: torch.Generator) -> torch.Tensor:
    """Lloyd's k-means on x [N, D] from k distinct random rows; empty clusters are re-seeded."""
    centroids = x[torch.randperm(x.shape[0], generator=generator)[:k]].clone()
    for _ in range(iters):
        assign = nearest_centroid(x, centroids)
        counts = torch.bincount(assign, minlength=k).float()
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        empty = counts == 0
        centroids = torch.where(empty[:, None], centroids, sums / counts.clamp(min=1)[:, None])
        if empty.any():  # an unused centroid moves onto a random frame instead of idling
            picks = torch.randint(0, x.shape[0], (int(empty.sum()),), generator=generator)
            centroids[empty] = x[picks]
    return centroids


# ---------------------------------------------------------------------------


def get_tokenizer(
    name: str = "auto",
    path: str | os.PathLike | None = None,
    k: int = 1024,
    device: str | torch.device | None = None,
) -> Tokenizer:
    """Build a tokenizer by name.

    - ``"encodec"``: pretrained EnCodec 24 kHz on ``device`` (default: CUDA when there
      is one, else the CPU); raises ``TokenizerError`` saying where to put the weights
      when they are missing and there is no network.
    - ``"melvq"``: loads the codebook at ``path``, or returns an unfitted one of size k.
    - ``"auto"``: EnCodec when its weights load, else the kit's codec (never melvq, whose tokens
      leak the mel: notebook 02); ``tok.auto_reason`` says why.
    - ``"codec"``: codebook 0 of the kit's own codec (codec.py), its committed weights or those at ``path``.
    """
    if name not in TOKENIZERS:
        raise TokenizerError(f"unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZERS)}")
    if name == "codec":
        return CodecTokenizer(path) if path else CodecTokenizer()
    if name == "encodec":
        return EncodecTokenizer(device=device)

    if name == "melvq":
        return MelVQTokenizer.load(path) if path else MelVQTokenizer(k=k)
    try:
        tok = EncodecTokenizer(device=device)
        tok.auto_reason = f"its weights loaded from {tok.weights}"
    except TokenizerError as err:
        tok = CodecTokenizer()
        tok.auto_reason = str(err).split(". ")[0]  # e.g. "EnCodec 24 kHz weights not found (offline ...)"
    return tok


TOKEN_SOURCES = {
    "melvq": ("melvq", "codebook_sha256", "codebook"),
    "encodec": ("EnCodec", "weights_sha256", "weights"),
    "codec": ("codec", "weights_sha256", "weights"),
}


def describe_tokenizer(settings: dict) -> str:
    """A tokenizer's identity from its ``settings()``, in words: ``melvq codebook 1a2b3c4d…``.

    >>> describe_tokenizer({"name": "encodec", "weights_sha256": "d7cc33bc" + "0" * 56, "bandwidth": 1.5})
    'EnCodec weights d7cc33bc…'
    """
    label, key, what = TOKEN_SOURCES[settings["name"]]
    return f"{label} {what} {short_hash(settings[key])}"


def short_hash(digest: str | None) -> str:
    """The first 8 hex digits of a sha256, as tables and messages show it (``None``: not fitted)."""
    return f"{digest[:8]}…" if digest else "none"


def tokenizer_difference(then: dict, now: dict) -> str | None:
    if then == now:
        return None
    if then["name"] != now["name"]:
        return f"{describe_tokenizer(then)} at training, {describe_tokenizer(now)} now"
    label, identity, _ = TOKEN_SOURCES[now["name"]]
    if then[identity] != now[identity]:
        return f"{describe_tokenizer(then)} at training, {short_hash(now[identity])} now"
    changed = sorted(key for key in {*then, *now} if then.get(key) != now.get(key))  # k, bandwidth...
    return ", ".join(f"{label} {key} {then.get(key)} at training, {now.get(key)} now" for key in changed)


def auto_tokenizer() -> str:
    """``"encodec"`` or ``"codec"``: what ``get_tokenizer("auto")`` picks, decided without building a model.

    EnCodec when a copy of its weights lies where ``encodec_checkpoint_candidates`` looks, or,
    online, when the hub's copy downloads (into the torch hub cache, where EnCodec is then
    loaded from); the kit's codec otherwise. A local copy is not read here: one that turns out unreadable
    is refused in one line when the EnCodec tokenizer is built.
    """
    if any(path.is_file() for path in encodec_checkpoint_candidates()):
        return "encodec"
    if offline():
        return "codec"
    try:
        download_checkpoint(import_encodec())
    except TokenizerError:
        return "codec"
    return "encodec"


def clip_features(wav: torch.Tensor, tokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens [frames], log-mel [frames, 64]) of one clip; melvq reuses the mel it is given."""
    mel = log_mel(wav)
    tokens = tokenizer.encode_mel(mel) if hasattr(tokenizer, "encode_mel") else tokenizer.encode(wav)
    return tokens, mel
