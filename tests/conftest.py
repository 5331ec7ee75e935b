import os

import pytest
import torch

# Tests never touch the network and never read the developer's caches.
os.environ.setdefault("WGPT_OFFLINE", "1")
os.environ.setdefault("WGPT_PRESET", "smoke")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WGPT_HOME", str(tmp_path))
    monkeypatch.setenv("WGPT_OFFLINE", "1")
    return tmp_path


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("WGPT_HOME", str(tmp_path_factory.mktemp("wgpt_home")))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
    monkeypatch.setenv("WGPT_RESULTS", str(tmp_path_factory.mktemp("results")))
    monkeypatch.setenv("WGPT_DRIVE", "")  # a mounted Google Drive is never written by tests
    monkeypatch.delenv("WGPT_ENCODEC_DIR", raising=False)


def tone_and_noise(seconds: float = 2.0, sr: int = 24_000, seed: int = 0) -> torch.Tensor:
    """A deterministic test signal: a gliding tone plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sr)) / sr
    freq = 220 + 660 * t / max(seconds, 1e-9)
    return (0.3 * torch.sin(2 * torch.pi * freq * t) + 0.02 * torch.randn(t.shape, generator=g)).float()


@pytest.fixture
def signal():
    return tone_and_noise()
