"""Interactive explorers for notebooks, with a static fallback.

In JupyterLab or Colab with ipywidgets 7 or 8, ``spectrogram_explorer`` gives sliders
and an audio player (only widgets both versions have). Colab shows ipywidgets 7 as it
is; ipywidgets 8 there needs Colab's custom widget manager, which ``ready_colab_widgets``
switches on when the kit is imported (tqdm's notebook bars need it too).
Where there is no widget front end (ipywidgets missing or older than 7, a plain Python
shell, an HTML export), it draws the starting view as a static figure instead of failing.
"""

from __future__ import annotations

import sys

import torch

from wgpt_lite.audio import HOP, N_FFT, SAMPLE_RATE
from wgpt_lite.display.plots import explorer_figure, plot_gain_over_spectrogram

WINDOW_CHOICES = (512, 1024, 2048)


def widgets_available() -> bool:
    """True inside an IPython kernel that has ipywidgets 7 or later (made ready for Colab)."""
    try:
        import ipywidgets
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or "IPKernelApp" not in shell.config or widgets_major(ipywidgets) < 7:
        return False
    ready_colab_widgets()
    return True


def ready_colab_widgets() -> bool:
    """In a Colab kernel whose ipywidgets is 8 or later, turn on Colab's custom widget manager; True if it did.

    Colab's front end draws its own ipywidgets 7 as it is, and 8 only through that manager, which is
    off by default: without it an explorer, or a tqdm notebook bar (made of ipywidgets), shows nothing.
    The assignments' ``teaching`` extra brings 8 (otter-grader 7 requires ``ipywidgets>=8.1.5``, and
    keeping 7 would mean an Otter two versions older than the one that builds the autograders), so
    ``import wgpt_lite`` calls this before any bar or explorer is shown. The version checked is the one
    this kernel imports: ipywidgets 7 loaded before an upgrade stays in use until a restart, and needs
    nothing. Elsewhere (``google.colab`` not loaded in this process) it does nothing and imports nothing.
    """
    if sys.modules.get("google.colab") is None:
        return False
    try:
        import ipywidgets
    except ImportError:
        return False
    if widgets_major(ipywidgets) < 8:
        return False
    from google.colab import output

    output.enable_custom_widget_manager()
    return True


def widgets_major(ipywidgets) -> int:
    """The major version of an imported ipywidgets (0 when it does not say)."""
    head = str(getattr(ipywidgets, "__version__", "0")).split(".")[0]
    return int(head) if head.isdigit() else 0


def spectrogram_explorer(clips: dict[str, torch.Tensor], frame: int = 40, n_fft: int = N_FFT):
    """Explore clips frame by frame: clip, time position (frame) and window length.

    In a notebook cell: ``spectrogram_explorer({"speech": wav, "piano": music})``.
    """
    names = list(clips)
    if not widgets_available():
        return explorer_figure(clips[names[0]], frame, n_fft, title=f"{names[0]} (static view: no widget front end)")

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import Audio, display

    clip = widgets.Dropdown(options=names, description="clip")
    longest = max(wav.shape[-1] for wav in clips.values()) // HOP - 1
    position = widgets.IntSlider(
        value=min(frame, longest), min=0, max=longest, description="frame t", continuous_update=False
    )
    window = widgets.SelectionSlider(options=WINDOW_CHOICES, value=n_fft, description="n_fft")
    player, view = widgets.Output(), widgets.Output()

    def redraw(_=None):
        wav = clips[clip.value]
        position.max = wav.shape[-1] // HOP - 1
        with view:
            view.clear_output(wait=True)
            explorer_figure(wav, position.value, window.value, title=clip.value)
            plt.show()

    def replay(_=None):
        with player:
            player.clear_output(wait=True)
            display(Audio(clips[clip.value].numpy(), rate=SAMPLE_RATE))

    for control in (clip, position, window):
        control.observe(redraw, names="value")
    clip.observe(replay, names="value")
    redraw()
    replay()
    return widgets.VBox([widgets.HBox([clip, position, window]), player, view])


def gain_explorer(mel: torch.Tensor, gain: torch.Tensor, window: int = 375, title: str = ""):
    """Scrub through a long clip: its log-mel and the hybrid's NLL gain, ``window`` frames at a time.

    ``mel`` [T, 64] and ``gain`` [T - 1] (GPT-S's per-frame NLL minus the hybrid's, from
    ``controls.frame_nll``) as ``plots.plot_gain_over_spectrogram`` draws them; a slider moves the
    window (375 frames = 5 s). Without a widget front end it draws the first window as a static figure.
    """
    frames = mel.shape[0]
    window = max(2, min(window, frames))
    label = title or "GPT-S NLL − hybrid NLL over the spectrogram"

    def draw(start: int, suffix: str = ""):
        stop = start + window
        return plot_gain_over_spectrogram(mel[start:stop], gain[start:stop], title=label + suffix, start=start)

    if not widgets_available():
        return draw(0, " (static view: no widget front end)")

    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    position = widgets.IntSlider(
        value=0,
        min=0,
        max=frames - window,
        step=max(1, window // 10),
        description="from frame",
        continuous_update=False,
    )
    view = widgets.Output()

    def redraw(_=None):
        with view:
            view.clear_output(wait=True)
            draw(position.value)
            plt.show()

    position.observe(redraw, names="value")
    redraw()
    return widgets.VBox([position, view])
