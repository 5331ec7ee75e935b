"""The front end on one clip, drawn to a PNG (``python -m wgpt_lite demo``).

Loads a clip (yours, or the first committed sample), computes its causal log-mel
and coarse tokens, and writes a four-panel figure: waveform, what one mel frame
sees, the log-mel, the tokens. Offline, the tokens come from a MelVQ codebook fitted
on this clip alone (a display stand-in, said so in the title).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from wgpt_lite.audio import FRAME_RATE, SAMPLE_RATE, load_audio, log_mel
from wgpt_lite.data.corpora import clip_file, corpus_dir, read_manifest
from wgpt_lite.display.plots import frontend_figure
from wgpt_lite.infra.atomic import atomic_path
from wgpt_lite.infra.errors import WgptError
from wgpt_lite.tokenizers import get_tokenizer

DEMO_CODEBOOK_SIZE = 64  # one clip has a few hundred frames: too few for 1024 centroids


def demo_clip(path: str | None = None) -> tuple[torch.Tensor, str]:
    """The clip to show: ``path``, else the first committed speech sample, else a synthetic chirp."""
    if path:
        return load_audio(path), str(path)
    try:
        row = read_manifest("sample-speech", "train")[0]
    except WgptError:  # the committed sample is missing (e.g. an installed wheel without data/)
        row = None
    if row:
        path = clip_file(corpus_dir("sample-speech"), row["path"])
        return load_audio(path), f"{row['id']} ({row['speaker']})"
    t = torch.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    chirp = 0.3 * torch.sin(2 * math.pi * (200 * t + 300 * t**2)) * (1 + torch.sin(2 * math.pi * 2 * t)) / 2
    return chirp.float(), "synthetic chirp (no sample found)"


def front_end_demo(
    audio: str | None = None, tokenizer: str = "auto", out: str | Path = "results/frontend_demo.png"
) -> str:
    """Draw the front end of one clip to ``out`` (PNG); return a few lines describing what was drawn."""
    wav, source = demo_clip(audio)
    mel = log_mel(wav)
    tok = get_tokenizer(tokenizer, k=DEMO_CODEBOOK_SIZE)
    if tok.name == "melvq" and not tok.fitted:
        tok.fit([mel], seed=0)
    tokens = tok.encode(wav)
    reason = getattr(tok, "auto_reason", "")
    note = f" (codebook of {tok.vocab_size} fitted on this clip)" if tok.name == "melvq" else ""
    fig = frontend_figure(
        wav,
        mel,
        tokens,
        tok.name,
        tok.vocab_size,
        frame=min(40, mel.shape[0] - 1),
        title=f"{source}: {wav.shape[0] / SAMPLE_RATE:.2f} s; tokenizer {tok.name}{note}",
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return "\n".join(
        [
            f"clip       {source}: {wav.shape[0]} samples at {SAMPLE_RATE} Hz",
            f"log-mel    {tuple(mel.shape)} (frames x bins) at {FRAME_RATE} frames/s",
            f"tokens     {tuple(tokens.shape)} from {tok.name}{note}" + (f"; {reason}" if reason else ""),
            f"figure     {out}",
        ]
    )
