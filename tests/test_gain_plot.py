"""Why the mel helps, made visible: per-frame NLL of one clip, the gain over its spectrogram, the explorer."""

import sys

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import wgpt_lite as wl
from wgpt_lite.batches import clip_windows
from wgpt_lite.display.widgets import gain_explorer
from wgpt_lite.infra.errors import TrainingError

VOCAB = 32


def clip(frames: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (frames,), generator=g), torch.randn(frames, wl.N_MELS, generator=g)


@pytest.mark.parametrize("name", ["gpt-s", "hybrid"])
def test_frame_nll_predicts_every_frame_after_the_first_once_and_agrees_with_evaluate(name):
    torch.manual_seed(0)
    model = wl.build_model(name, "smoke", vocab_size=VOCAB)
    context = model.config.context
    tokens, mel = clip(2 * context + 10)  # three windows, the last one short
    nll = wl.frame_nll(model, tokens, mel)
    assert nll.shape == (tokens.shape[0] - 1,) and nll.dtype == torch.float32
    windows = clip_windows(tokens.shape[0], context)
    assert len(windows) == 3
    total = count = 0.0
    for start, stop in windows:  # evaluate, window by window, weighted by its targets
        batch = (tokens[None, start:stop], mel[None, start:stop])
        total += wl.evaluate(model, batch)["nll"] * (stop - start - 1)
        count += stop - start - 1
    assert count == nll.shape[0]
    assert nll.mean().item() == pytest.approx(total / count, abs=1e-5)
    # the first window's NLLs are exactly evaluate's on that window alone
    first = wl.evaluate(model, (tokens[None, : context + 1], mel[None, : context + 1]))["nll"]
    assert nll[:context].mean().item() == pytest.approx(first, abs=1e-5)


def test_frame_nll_of_a_short_clip_is_one_window_and_a_one_frame_clip_is_refused():
    model = wl.build_model("hybrid", "smoke", vocab_size=VOCAB)
    tokens, mel = clip(10)
    assert wl.frame_nll(model, tokens, mel).shape == (9,)
    with pytest.raises(TrainingError, match="at least 2 aligned frames"):
        wl.frame_nll(model, tokens[:1], mel[:1])
    with pytest.raises(TrainingError):
        wl.frame_nll(model, tokens, mel[:5])


def test_the_gain_figure_has_two_axes_aligned_on_the_frame_axis():
    _, mel = clip(300)
    gain = torch.randn(299)
    fig = wl.plot_gain_over_spectrogram(mel, gain, title="test", start=75)
    fig.canvas.draw()  # constrained layout places the axes when drawn
    spectrogram, bars = fig.axes[0], fig.axes[1]
    assert spectrogram.get_xlim() == pytest.approx(bars.get_xlim())
    assert bars.get_xlim() == pytest.approx((1.0, 1.0 + 300 / 75))  # seconds of the clip, from frame 75 on
    top, bottom = spectrogram.get_position(), bars.get_position()
    assert top.x0 == pytest.approx(bottom.x0, abs=1e-6) and top.x1 == pytest.approx(bottom.x1, abs=1e-6)
    assert top.y0 > bottom.y1  # spectrogram above, gain below
    assert len(bars.patches) == 299  # one bar per predicted frame
    assert bars.patches[0].get_x() == pytest.approx(1.0)  # bar t starts where frame t's column does
    assert "test" in fig.texts[0].get_text()


def test_gain_explorer_falls_back_to_a_static_figure_without_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets now fails
    _, mel = clip(500)
    fig = gain_explorer(mel, torch.randn(499), window=200)
    assert "static view" in fig.texts[0].get_text()
    assert fig.axes[0].get_xlim() == pytest.approx((0.0, 200 / 75))


def test_gain_explorer_gives_a_slider_in_a_kernel(monkeypatch):
    import IPython
    import ipywidgets

    class KernelShell:
        config = {"IPKernelApp": {}}

    monkeypatch.setattr(IPython, "get_ipython", lambda: KernelShell())
    _, mel = clip(500)
    view = gain_explorer(mel, torch.randn(499), window=200)
    assert isinstance(view, ipywidgets.VBox)
    slider = view.children[0]
    assert (slider.min, slider.max) == (0, 300)
