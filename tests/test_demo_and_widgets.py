import subprocess
import sys
import types

import matplotlib

matplotlib.use("Agg")

from conftest import tone_and_noise

from wgpt_lite.display.widgets import ready_colab_widgets, spectrogram_explorer, widgets_available


def test_explorer_without_a_widget_front_end_draws_a_static_figure():
    assert not widgets_available()  # pytest is no IPython kernel
    fig = spectrogram_explorer({"tone": tone_and_noise(1.0)}, frame=10, n_fft=2048)
    assert len(fig.axes) >= 3 and "static view" in fig.texts[0].get_text()


class KernelShell:
    config = {"IPKernelApp": {}}  # what a Jupyter or Colab kernel's shell carries


def pretend_kernel(monkeypatch, widgets_version: str, colab: bool = False) -> list[str]:
    """Make the explorer believe it runs in a kernel with this ipywidgets version (and maybe Colab)."""
    import IPython
    import ipywidgets

    monkeypatch.setattr(IPython, "get_ipython", lambda: KernelShell())
    monkeypatch.setattr(ipywidgets, "__version__", widgets_version)
    calls = []
    if colab:
        output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("custom manager"))
        monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(output=output))
    return calls


def test_explorer_gives_widgets_on_ipywidgets_7_and_8_and_readies_colab_for_8(monkeypatch):
    import ipywidgets

    cases = [("7.7.1", True, []), ("8.1.5", True, ["custom manager"]), ("8.1.5", False, [])]
    for version, colab, expected_calls in cases:
        with monkeypatch.context() as patch:
            calls = pretend_kernel(patch, version, colab)
            view = spectrogram_explorer({"tone": tone_and_noise(1.0)}, frame=10)
        assert isinstance(view, ipywidgets.VBox), version
        assert calls == expected_calls, (version, colab)


def test_colab_gets_its_custom_widget_manager_only_where_ipywidgets_8_is_loaded(monkeypatch):
    """The teaching extra lifts Colab's ipywidgets 7 to 8 (otter-grader 7 needs it); tqdm bars need the manager too."""
    import ipywidgets

    assert ready_colab_widgets() is False  # not Colab: nothing to do
    for version, expected_calls in [("7.7.1", []), ("8.1.5", ["custom manager"])]:
        with monkeypatch.context() as patch:
            patch.setattr(ipywidgets, "__version__", version)
            output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("custom manager"))
            patch.setitem(sys.modules, "google.colab", types.SimpleNamespace(output=output))
            calls = []
            assert ready_colab_widgets() is bool(expected_calls), version
            assert calls == expected_calls, version


def test_importing_the_kit_in_a_colab_kernel_readies_its_widgets_before_any_bar():
    fake_colab = (
        "import sys, types, ipywidgets; ipywidgets.__version__ = '8.1.5'; calls = []; "
        "output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append('on')); "
        "sys.modules['google.colab'] = types.SimpleNamespace(output=output); "
        "import wgpt_lite; print(calls)"
    )
    result = subprocess.run([sys.executable, "-c", fake_colab], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['on']"


def test_explorer_with_too_old_widgets_falls_back_to_the_figure(monkeypatch):
    pretend_kernel(monkeypatch, "6.0.0")
    fig = spectrogram_explorer({"tone": tone_and_noise(1.0)}, frame=10)
    assert "static view" in fig.texts[0].get_text()


def test_demo_command_writes_its_figure(tmp_path):
    out = tmp_path / "demo.png"
    result = subprocess.run(
        [sys.executable, "-m", "wgpt_lite", "demo", "--tokenizer", "melvq", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 10_000 and "tokens" in result.stdout


def test_cli_reports_kit_errors_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "wgpt_lite", "demo", "--audio", str(tmp_path / "nope.wav")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.wav'}: no such file; check the path"]
