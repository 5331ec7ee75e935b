"""Figures: the front end (waveform, causal framing, log-mel, tokens), and a reproduction's loss curves
and per-position mel gain (``plot_curves``, ``plot_mel_gain``, drawn from ``results.load_runs`` and
``reproduce.score_controls``).

Each front-end function draws on a matplotlib ``Axes`` it is given (or a new one) and returns
it, so notebooks compose them freely; ``frontend_figure`` puts them together. A reproduction's
figures are drawn without pyplot, so saving one never changes a notebook's plotting backend.
matplotlib is imported inside the functions to keep ``import wgpt_lite`` light.
"""

from __future__ import annotations

import io
import os

import torch

from wgpt_lite.audio import FRAME_RATE, HOP, N_FFT, SAMPLE_RATE, log_mel, mel_filters
from wgpt_lite.infra.atomic import atomic_path
from wgpt_lite.presets import MODELS

MEL_UNITS = "(log10 power + 4) / 4"  # the normalised log-mel, audio.log_scale
MODEL_LABELS = {"gpt-s": "GPT-S (tokens only)", "gpt-l": "GPT-L (tokens only)", "hybrid": "Hybrid (mel + tokens)"}


def millions(params: float) -> str:
    """A parameter count as the tables and legends print it: ``0.25M``, ``41.0M``."""
    return f"{params / 1e6:.2f}M" if params < 1e7 else f"{params / 1e6:.1f}M"


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(10, 3))[1]


def plot_waveform(wav: torch.Tensor, ax=None, title: str = "waveform, 24 kHz mono"):
    """Amplitude against seconds."""
    ax = _axes(ax)
    seconds = torch.arange(wav.shape[-1]) / SAMPLE_RATE
    ax.plot(seconds.numpy(), wav.numpy(), lw=0.4, color="0.3")
    ax.set(xlabel="time (s)", ylabel="amplitude", xlim=(0, wav.shape[-1] / SAMPLE_RATE), title=title)
    return ax


def plot_power_spectrogram(power: torch.Tensor, ax=None, title: str = "power spectrogram (linear frequency)"):
    """Power [freq, frames] from ``audio.power_spectrogram`` in dB, frequency in kHz on y."""
    ax = _axes(ax)
    decibels = 10 * torch.log10(power.clamp(min=1e-10))
    image = ax.imshow(
        decibels.cpu().numpy(),
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=decibels.max().item() - 80,
        extent=(0, power.shape[-1] / FRAME_RATE, 0, SAMPLE_RATE / 2000),
    )
    ax.figure.colorbar(image, ax=ax, pad=0.01, label="dB")
    ax.set(xlabel="time (s)", ylabel="frequency (kHz)", title=title)
    return ax


def plot_mel_filters(ax=None):
    """The 64 triangular mel filters over linear frequency: narrow and low, wide and high."""
    ax = _axes(ax)
    filters = mel_filters()
    khz = torch.linspace(0, SAMPLE_RATE / 2000, filters.shape[1])
    for row in filters[::2]:  # every other filter keeps the picture readable
        ax.plot(khz.numpy(), row.numpy(), lw=0.8)
    ax.set(
        xlabel="frequency (kHz)", ylabel="weight", title=f"mel filterbank: {filters.shape[0]} filters (every 2nd drawn)"
    )
    return ax


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
    ax.axvspan(
        max(0, end - n_fft) / SAMPLE_RATE,
        end / SAMPLE_RATE,
        color="tab:blue",
        alpha=0.2,
        label=f"window of mel frame {t} ({n_fft} samples)",
    )
    ax.axvspan(
        (end - HOP) / SAMPLE_RATE,
        end / SAMPLE_RATE,
        color="tab:green",
        alpha=0.3,
        label=f"the {HOP} new samples of frame {t}",
    )
    ax.axvline(end / SAMPLE_RATE, color="tab:red", lw=1.5, label=f"sample (t+1)·{HOP} = {end}: the future starts")
    ax.set(xlabel="time (s)", ylabel="amplitude", title=f"What mel frame {t} sees")
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_log_mel(mel: torch.Tensor, ax=None, title: str = "causal log-mel (64 bins, 75 frames/s)"):
    """Log-mel [frames, 64] as an image, time in seconds on x."""
    ax = _axes(ax)
    ax.figure.colorbar(_mel_image(ax, mel), ax=ax, pad=0.01, label=MEL_UNITS)
    ax.set(xlabel="time (s)", ylabel="mel bin", title=title)
    return ax


def _mel_image(ax, mel: torch.Tensor, start: int = 0):
    """Log-mel [frames, 64] drawn on ``ax``, x in seconds from frame ``start``; returns the image."""
    t0 = start / FRAME_RATE
    return ax.imshow(
        mel.T.float().cpu().numpy(),
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(t0, t0 + mel.shape[0] / FRAME_RATE, 0, mel.shape[1]),
    )


def plot_continuation(mel: torch.Tensor, prompt_frames: int, ax=None, title: str = "prompt | continuation"):
    """Log-mel of prompt + continuation, with a line where the model takes over."""
    ax = plot_log_mel(mel, ax, title)
    ax.axvline(prompt_frames / FRAME_RATE, color="white", lw=1.5, ls="--")
    return ax


def plot_tokens(tokens: torch.Tensor, ax=None, tokenizer_name: str = "", vocab_size: int | None = None):
    """Token ids against time, one dot per 75 Hz frame."""
    ax = _axes(ax)
    seconds = torch.arange(tokens.shape[0]) / FRAME_RATE
    ax.scatter(seconds.numpy(), tokens.cpu().numpy(), s=4, c=tokens.cpu().numpy(), cmap="tab20", linewidths=0)
    ax.set(
        xlabel="time (s)",
        ylabel="token id",
        xlim=(0, tokens.shape[0] / FRAME_RATE),
        title=f"{tokenizer_name} tokens, one per frame".strip(),
    )
    if vocab_size:
        ax.set_ylim(-1, vocab_size)
    return ax


def frontend_figure(
    wav: torch.Tensor,
    mel: torch.Tensor,
    tokens: torch.Tensor,
    tokenizer_name: str,
    vocab_size: int,
    frame: int = 40,
    title: str = "",
):
    """Four panels: waveform, what one frame sees, its log-mel, its tokens (time-aligned)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(11, 10), constrained_layout=True)
    plot_waveform(wav, axes[0], title=title or "waveform, 24 kHz mono")
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

    mel = log_mel(wav, n_fft=n_fft)
    frame = max(0, min(frame, mel.shape[0] - 1))
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), constrained_layout=True)
    plot_causal_frame(wav, frame, axes[0], n_fft=n_fft)
    plot_log_mel(mel, axes[1], title=f"log-mel, n_fft={n_fft}: frames after {frame} are the future (dimmed)")
    axes[1].axvspan((frame + 1) / FRAME_RATE, mel.shape[0] / FRAME_RATE, color="white", alpha=0.6)
    axes[1].axvline((frame + 1) / FRAME_RATE, color="tab:red", lw=1.2)
    axes[2].plot(mel[frame].numpy(), marker=".", color="tab:blue")
    axes[2].set(
        xlabel="mel bin (low → high frequency)",
        ylabel=MEL_UNITS,
        ylim=(-1.2, 2.0),
        title=f"mel frame {frame} ({(frame + 1) / FRAME_RATE:.3f} s)",
    )
    if title:
        fig.suptitle(title)
    return fig


def plot_token_histogram(counts: torch.Tensor, ax=None, title: str = "token frequencies"):
    """Token ids sorted by frequency (log scale): a few common tokens, a long tail."""
    ax = _axes(ax)
    ranked = counts.sort(descending=True).values.double()
    ax.semilogy((ranked / ranked.sum()).numpy(), lw=1)
    ax.set(xlabel="token rank", ylabel="probability", title=title)
    return ax


def plot_codebook(codebook: torch.Tensor, ax=None, title: str = "melvq codebook: each column one centroid spectrum"):
    """Centroids [k, 64] as an image, ordered by loudness so similar spectra sit together."""
    ax = _axes(ax)
    order = codebook.mean(1).argsort()
    image = ax.imshow(codebook[order].T.numpy(), origin="lower", aspect="auto", cmap="magma")
    ax.figure.colorbar(image, ax=ax, pad=0.01)
    ax.set(xlabel="centroid (sorted by mean level)", ylabel="mel bin", title=title)
    return ax


class LiveCurves:
    """Validation loss of every model trained so far, redrawn in place after each evaluation.

    Pass it as ``on_eval`` to ``reproduce`` (or ``train``) in a notebook::

        rows = reproduce("mini", ["mini-speech"], on_eval=LiveCurves())
    """

    def __init__(self):
        self.runs: dict[str, dict[str, dict[int, list[dict]]]] = {}  # as results.load_runs gives them
        self.handle = None

    def __call__(self, run, record: dict) -> None:
        from IPython.display import display

        seeds = self.runs.setdefault(run.corpus, {}).setdefault(run.model, {})
        seeds.setdefault(record.get("seed", 0), []).append(record)
        image = as_image(plot_curves(self.runs))
        if self.handle is None:
            self.handle = display(image, display_id=True)
        else:
            self.handle.update(image)


def as_image(fig, dpi: int = 100):
    """A figure drawn without pyplot (e.g. ``plot_curves``) as a notebook PNG image."""
    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return Image(data=buffer.getvalue(), format="png")


def plot_gain_over_spectrogram(
    mel: torch.Tensor,
    gain: torch.Tensor,
    title: str = "where the mel helps: GPT-S NLL − hybrid NLL, frame by frame",
    start: int = 0,
    smooth: int = 15,
):
    """Log-mel [T, 64] of a clip on top; below it, on the same time axis, the NLL gain per frame.

    ``gain[t]`` is GPT-S's NLL minus the hybrid's for the prediction made at frame ``t`` (of
    token ``t + 1``, from what was heard up to frame ``t``; ``controls.frame_nll`` of each model),
    so it has ``T - 1`` entries (``T`` are accepted too). Positive (green): the hybrid predicts that
    frame's next token better. The black line is its running mean over ``smooth`` frames. ``start``
    is the clip frame ``mel[0]`` is, so a window of a long clip keeps the clip's seconds on x.
    """
    import matplotlib.pyplot as plt

    frames = mel.shape[0]
    gain = gain.detach().float().cpu()[:frames]
    t0 = start / FRAME_RATE
    fig, axes = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True, height_ratios=(2, 1), constrained_layout=True)
    image = _mel_image(axes[0], mel, start)
    axes[0].set(ylabel="mel bin", title="causal log-mel")
    # One colour bar for both panels keeps their frame axes the same width (aligned column by column).
    fig.colorbar(image, ax=list(axes), pad=0.01, shrink=0.6, anchor=(0.0, 1.0), label=MEL_UNITS)
    left = t0 + torch.arange(gain.shape[0]) / FRAME_RATE  # bar t covers frame t's column
    colours = ["tab:green" if g >= 0 else "tab:red" for g in gain.tolist()]
    axes[1].bar(left.numpy(), gain.numpy(), width=1 / FRAME_RATE, align="edge", color=colours, linewidth=0)
    if smooth > 1 and gain.shape[0] >= smooth:
        kernel = torch.ones(1, 1, smooth) / smooth
        running = torch.nn.functional.conv1d(gain[None, None], kernel, padding=smooth // 2)[0, 0, : gain.shape[0]]
        axes[1].plot((left + 0.5 / FRAME_RATE).numpy(), running.numpy(), color="black", lw=1.2)
    axes[1].axhline(0, color="0.4", lw=0.8)
    axes[1].set(
        xlabel="time (s)",
        ylabel="GPT-S − hybrid\n(nats)",
        xlim=(t0, t0 + frames / FRAME_RATE),
        title=f"above 0: the mel helped; mean {gain.mean():+.3f} nats over {gain.shape[0]} predicted frames",
    )
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------
# A reproduction's figures, drawn without pyplot


def validation_curves(records: list[dict]) -> tuple[list[float], list[float]]:
    """(epochs, validation NLL) of one run's log."""
    evals = [r for r in records if r["kind"] == "eval"]
    return [r["epoch"] for r in evals], [r["nll"] for r in evals]


def plot_curves(runs: dict[str, dict[str, dict[int, list[dict]]]], path: str | os.PathLike | None = None):
    """Validation loss per epoch, one panel per corpus, one colour per model, one line per seed.

    ``runs`` as from ``load_runs``. Titles name the tokenizer. Saved as PNG when ``path`` is
    given; returns the figure. It is drawn without pyplot, so saving a file never changes
    the plotting backend of a notebook.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5 * max(1, len(runs)), 4), layout="tight")
    axes = fig.subplots(1, max(1, len(runs)), squeeze=False)[0]
    for ax, (corpus, models) in zip(axes, runs.items()):
        all_records = [r for seeds in models.values() for records in seeds.values() for r in records]
        tokenizers = sorted({r["tokenizer"] for r in all_records if "tokenizer" in r})
        for colour, model in zip(("C0", "C1", "C2"), MODELS):
            for i, (_, records) in enumerate(sorted(models.get(model, {}).items())):
                epochs, nll = validation_curves(records)
                params = next((f", {millions(r['params'])}" for r in records if r["kind"] == "run"), "")
                seeds = f", {len(models[model])} seeds" if len(models[model]) > 1 else ""
                label = f"{MODEL_LABELS[model]}{params}{seeds}" if i == 0 else None
                ax.plot(epochs, nll, color=colour, marker="o", ms=2, lw=1, alpha=0.8, label=label)
        ax.set(
            title=f"{corpus}: validation loss ({', '.join(tokenizers)} tokens)",
            xlabel="epoch",
            ylabel="NLL (nats/token)",
        )
    return finish_figure(fig, path)


def finish_figure(fig, path: str | os.PathLike | None):
    """Grid and legend on every panel of ``fig``; saved as PNG when ``path`` is given; returns ``fig``."""
    for ax in fig.axes:
        ax.grid(alpha=0.3)
        ax.legend()
    if path is not None:
        with atomic_path(path) as tmp:  # a kill never leaves half a figure beside the results
            fig.savefig(tmp, dpi=120, format="png")
    return fig


def plot_mel_gain(controls: dict[str, dict], path: str | os.PathLike | None = None):
    """What the mel adds: hybrid − GPT-S test NLL at each context position (mean over seeds), per corpus.

    ``controls``: ``{corpus: reproduce.score_controls(...)}``. Below zero the hybrid predicts
    better; a gain that does not shrink with the position means the mel carries what even a
    long token history does not.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5), layout="tight")
    ax = fig.subplots()
    for corpus, scores in controls.items():
        curves = scores["position_nll"]
        if "gpt-s" in curves:
            gain = [h - g for h, g in zip(curves["hybrid"], curves["gpt-s"])]
            seeds = f"{scores['seeds']} seed{'s' if scores['seeds'] != 1 else ''}"
            ax.plot(range(1, len(gain) + 1), gain, lw=1, label=f"{corpus} ({seeds})")
    ax.axhline(0, color="black", lw=0.8)
    ax.set(
        title="What the mel adds: hybrid − GPT-S, per position",
        xlabel="frames seen (position + 1)",
        ylabel="NLL difference (nats/token)",
    )
    return finish_figure(fig, path)
