"""Figures of the front end: waveform, causal framing, log-mel, tokens.

Each function draws on a matplotlib ``Axes`` it is given (or a new one) and returns
it, so notebooks compose them freely; ``frontend_figure`` puts them together.
matplotlib is imported inside the functions to keep ``import wgpt_lite`` light.
"""

from __future__ import annotations

import torch

from wgpt_lite.audio import FRAME_RATE, HOP, N_FFT, SAMPLE_RATE


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(10, 3))[1]


def plot_causal_frame(wav: torch.Tensor, t: int, ax=None):
    """The waveform around frame ``t``, with the samples mel frame ``t`` sees shaded.

    The Hann window spans ``(t+1)*HOP - N_FFT .. (t+1)*HOP``; everything right of the
    red line is the future that frame ``t`` (and token ``t``) must not see.
    """
    ax = _axes(ax)
    end = (t + 1) * HOP
    lo, hi = max(0, end - N_FFT - 2 * HOP), min(wav.shape[-1], end + 3 * HOP)
    seconds = torch.arange(lo, hi) / SAMPLE_RATE
    ax.plot(seconds, wav[lo:hi], lw=0.6, color="0.3")
    ax.axvspan(max(0, end - N_FFT) / SAMPLE_RATE, end / SAMPLE_RATE, color="tab:blue", alpha=0.2,
               label=f"window of mel frame {t} ({N_FFT} samples)")
    ax.axvspan((end - HOP) / SAMPLE_RATE, end / SAMPLE_RATE, color="tab:green", alpha=0.3,
               label=f"the {HOP} new samples of frame {t}")
    ax.axvline(end / SAMPLE_RATE, color="tab:red", lw=1.5, label=f"sample (t+1)·{HOP} = {end}: the future starts")
    ax.set(xlabel="time (s)", ylabel="amplitude", title=f"What mel frame {t} sees")
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_log_mel(mel: torch.Tensor, ax=None, title: str = "causal log-mel (64 bins, 75 frames/s)"):
    """Log-mel [frames, 64] as an image, time in seconds on x."""
    ax = _axes(ax)
    frames = mel.shape[0]
    image = ax.imshow(mel.T.float().cpu(), origin="lower", aspect="auto", cmap="magma",
                      extent=(0, frames / FRAME_RATE, 0, mel.shape[1]))
    ax.figure.colorbar(image, ax=ax, pad=0.01, label="(log10 power + 4) / 4")
    ax.set(xlabel="time (s)", ylabel="mel bin", title=title)
    return ax


def plot_tokens(tokens: torch.Tensor, ax=None, tokenizer_name: str = "", vocab_size: int | None = None):
    """Token ids against time, one dot per 75 Hz frame."""
    ax = _axes(ax)
    seconds = torch.arange(tokens.shape[0]) / FRAME_RATE
    ax.scatter(seconds, tokens.cpu(), s=4, c=tokens.cpu(), cmap="tab20", linewidths=0)
    ax.set(xlabel="time (s)", ylabel="token id", xlim=(0, tokens.shape[0] / FRAME_RATE),
           title=f"{tokenizer_name} tokens, one per frame".strip())
    if vocab_size:
        ax.set_ylim(-1, vocab_size)
    return ax


def frontend_figure(wav: torch.Tensor, mel: torch.Tensor, tokens: torch.Tensor, tokenizer_name: str,
                    vocab_size: int, frame: int = 40, title: str = ""):
    """Four panels: waveform, what one frame sees, its log-mel, its tokens (time-aligned)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(11, 10), constrained_layout=True)
    seconds = torch.arange(wav.shape[-1]) / SAMPLE_RATE
    axes[0].plot(seconds, wav, lw=0.4, color="0.3")
    axes[0].set(xlabel="time (s)", ylabel="amplitude", xlim=(0, wav.shape[-1] / SAMPLE_RATE),
                title=title or "waveform, 24 kHz mono")
    plot_causal_frame(wav, frame, axes[1])
    plot_log_mel(mel, axes[2])
    plot_tokens(tokens, axes[3], tokenizer_name, vocab_size)
    axes[3].set_xlim(axes[2].get_xlim())
    return fig
