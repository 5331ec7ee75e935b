import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

from conftest import tone_and_noise

from wgpt_lite.widgets import spectrogram_explorer, widgets_available


def test_explorer_without_a_widget_front_end_draws_a_static_figure():
    assert not widgets_available()  # pytest is no IPython kernel
    fig = spectrogram_explorer({"tone": tone_and_noise(1.0)}, frame=10, n_fft=2048)
    assert len(fig.axes) >= 3 and "static view" in fig.texts[0].get_text()


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
