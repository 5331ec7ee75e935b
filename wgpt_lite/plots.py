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


def plot_causal_frame(wav: torch.Tensor, t: int, ax=None, n_fft: int = N_FFT):
    """The waveform around frame ``t``, with the samples mel frame ``t`` sees shaded.

    The Hann window spans ``(t+1)*HOP - n_fft .. (t+1)*HOP``; everything right of the
    red line is the future that frame ``t`` (and token ``t``) must not see.
    """
    ax = _axes(ax)
    end = (t + 1) * HOP
    lo, hi = max(0, end - n_fft - 2 * HOP), min(wav.shape[-1], end + 3 * HOP)
    seconds = torch.arange(lo, hi) / SAMPLE_RATE
    ax.plot(seconds.numpy(), wav[lo:hi].numpy(), lw=0.6, color="0.3")
    ax.axvspan(max(0, end - n_fft) / SAMPLE_RATE, end / SAMPLE_RATE, color="tab:blue", alpha=0.2,
               label=f"window of mel frame {t} ({n_fft} samples)")
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
    image = ax.imshow(mel.T.float().cpu().numpy(), origin="lower", aspect="auto", cmap="magma",
                      extent=(0, frames / FRAME_RATE, 0, mel.shape[1]))
    ax.figure.colorbar(image, ax=ax, pad=0.01, label="(log10 power + 4) / 4")
    ax.set(xlabel="time (s)", ylabel="mel bin", title=title)
    return ax


def plot_tokens(tokens: torch.Tensor, ax=None, tokenizer_name: str = "", vocab_size: int | None = None):
    """Token ids against time, one dot per 75 Hz frame."""
    ax = _axes(ax)
    seconds = torch.arange(tokens.shape[0]) / FRAME_RATE
    ax.scatter(seconds.numpy(), tokens.cpu().numpy(), s=4, c=tokens.cpu().numpy(), cmap="tab20", linewidths=0)
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
    axes[0].plot(seconds.numpy(), wav.numpy(), lw=0.4, color="0.3")
    axes[0].set(xlabel="time (s)", ylabel="amplitude", xlim=(0, wav.shape[-1] / SAMPLE_RATE),
                title=title or "waveform, 24 kHz mono")
    plot_causal_frame(wav, frame, axes[1])
    plot_log_mel(mel, axes[2])
    plot_tokens(tokens, axes[3], tokenizer_name, vocab_size)
    axes[3].set_xlim(axes[2].get_xlim())
    return fig


def explorer_figure(wav: torch.Tensor, frame: int, n_fft: int = N_FFT, title: str = ""):
    """One frame in context: what its window covers, where it sits in the log-mel, its spectrum.

    The log-mel panel dims every frame after ``frame``: the model at position ``frame``
    has seen only the bright part.
    """
    import matplotlib.pyplot as plt

    from wgpt_lite.audio import log_mel

    mel = log_mel(wav, n_fft=n_fft)
    frame = max(0, min(frame, mel.shape[0] - 1))
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), constrained_layout=True)
    plot_causal_frame(wav, frame, axes[0], n_fft=n_fft)
    plot_log_mel(mel, axes[1], title=f"log-mel, n_fft={n_fft}: frames after {frame} are the future (dimmed)")
    axes[1].axvspan((frame + 1) / FRAME_RATE, mel.shape[0] / FRAME_RATE, color="white", alpha=0.6)
    axes[1].axvline((frame + 1) / FRAME_RATE, color="tab:red", lw=1.2)
    axes[2].plot(mel[frame].numpy(), marker=".", color="tab:blue")
    axes[2].set(xlabel="mel bin (low → high frequency)", ylabel="(log10 power + 4) / 4", ylim=(-1.2, 2.0),
                title=f"mel frame {frame} ({(frame + 1) / FRAME_RATE:.3f} s)")
    if title:
        fig.suptitle(title)
    return fig
