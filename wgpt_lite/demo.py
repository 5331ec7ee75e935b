"""``python -m wgpt_lite demo``: the front end on one clip, drawn to a PNG.

Loads a clip (yours, or the first committed sample), computes its causal log-mel
and coarse tokens, and writes a four-panel figure: waveform, what one mel frame
sees, the log-mel, the tokens. Offline, the tokens come from a MelVQ codebook fitted
on this clip alone (a display stand-in, said so in the title).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from wgpt_lite.audio import FRAME_RATE, SAMPLE_RATE, load_audio, log_mel
from wgpt_lite.errors import WgptError
from wgpt_lite.tokenizers import TOKENIZERS, get_tokenizer

DEMO_CODEBOOK_SIZE = 64  # one clip has a few hundred frames: too few for 1024 centroids


def demo_clip(path: str | None = None) -> tuple[torch.Tensor, str]:
    """The clip to show: ``path``, else the first committed speech sample, else a synthetic chirp."""
    if path:
        return load_audio(path), str(path)
    from wgpt_lite.corpora import corpus_dir, read_manifest

    try:
        row = read_manifest("sample-speech", "train")[0]
    except WgptError:  # the committed sample is missing (e.g. an installed wheel without data/)
        row = None
    if row:
        path = corpus_dir("sample-speech") / row["path"]
        return load_audio(path), f"{row['id']} ({row['speaker']})"
    t = torch.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    chirp = 0.3 * torch.sin(2 * math.pi * (200 * t + 300 * t**2)) * (1 + torch.sin(2 * math.pi * 2 * t)) / 2
    return chirp.float(), "synthetic chirp (no sample found)"


def run_demo(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # a file, not a window: works on a headless machine
    from wgpt_lite.plots import frontend_figure

    wav, source = demo_clip(args.audio)
    mel = log_mel(wav)
    tok = get_tokenizer(args.tokenizer, k=DEMO_CODEBOOK_SIZE)
    if tok.name == "melvq" and not tok.fitted:
        tok.fit([mel], seed=0)
    tokens = tok.encode(wav)
    reason = getattr(tok, "auto_reason", "")
    note = f" (codebook of {tok.vocab_size} fitted on this clip)" if tok.name == "melvq" else ""
    fig = frontend_figure(wav, mel, tokens, tok.name, tok.vocab_size, frame=min(40, mel.shape[0] - 1),
                          title=f"{source}: {wav.shape[0] / SAMPLE_RATE:.2f} s; tokenizer {tok.name}{note}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"clip       {source}: {wav.shape[0]} samples at {SAMPLE_RATE} Hz")
    print(f"log-mel    {tuple(mel.shape)} (frames x bins) at {FRAME_RATE} frames/s")
    print(f"tokens     {tuple(tokens.shape)} from {tok.name}{note}" + (f"; {reason}" if reason else ""))
    print(f"figure     {out}")
    return 0


def add_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="draw the front end (waveform, causal framing, log-mel, tokens) of one clip to a PNG",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--audio", default=None,
                        help="audio file to show (any format soundfile reads); default: the first committed speech sample")
    parser.add_argument("--tokenizer", default="auto", choices=TOKENIZERS,
                        help="'encodec' needs its weights; 'auto' uses them when present, else 'melvq' (default: auto)")
    parser.add_argument("--out", default="results/frontend_demo.png", help="where to write the figure (default: %(default)s)")
    parser.set_defaults(func=run_demo)
