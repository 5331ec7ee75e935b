"""The front end: log-mel, MelVQ and EnCodec speed on one thread, and the feature cache cold vs warm.

EnCodec runs with random-init weights (``EncodecTokenizer.untrained``): the pretrained
weights cannot be downloaded here, and speed does not depend on the weights' values.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from unittest import mock

import torch

from bench.report import Table, Target
from bench.timing import time_calls
from wgpt_lite.audio import SAMPLE_RATE, log_mel
from wgpt_lite.corpora import is_built
from wgpt_lite.feature_cache import corpus_tokenizer, features
from wgpt_lite.tokenizers import EncodecTokenizer, MelVQTokenizer

CPU = torch.device("cpu")
MELVQ_K = 1024
CACHE_CORPORA = ("sample-speech", "sample-music")  # committed in data/sample: no build, no network

# Targets from the issue (x real time, one thread).
GOAL_LOG_MEL = 1000
GOAL_ENCODEC = 10


def test_signal(seconds: float, seed: int = 0) -> torch.Tensor:
    """A gliding tone plus a little noise at 24 kHz (the content does not change the speed)."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    freq = 220 + 660 * t / seconds
    return 0.3 * torch.sin(2 * torch.pi * freq * t) + 0.02 * torch.randn(t.shape, generator=generator)


@contextmanager
def torch_threads(n: int):
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def speed_table(quick: bool, targets: list[Target]) -> tuple[Table, EncodecTokenizer]:
    table = Table(
        "Front end on one thread (× real time = audio seconds per compute second)",
        ["stage", "audio (s)", "compute (s)", "× real time", "goal"],
    )
    wav = test_signal(10 if quick else 60)
    encodec_wav = wav[: (5 if quick else 20) * SAMPLE_RATE]
    with torch_threads(1), torch.inference_mode():
        mel = log_mel(wav)
        codebook = mel[torch.randperm(mel.shape[0], generator=torch.Generator().manual_seed(0))[:MELVQ_K]]
        melvq = MelVQTokenizer(codebook=codebook.clone())  # random frames as centroids: encoding costs the same
        build_s, encodec = timed(lambda: EncodecTokenizer.untrained(encodec_wav[: 2 * SAMPLE_RATE]))
        stages = [
            ("log-mel (64 bins, causal)", wav, lambda: log_mel(wav), GOAL_LOG_MEL),
            (f"MelVQ encode (k = {MELVQ_K}, log-mel included)", wav, lambda: melvq.encode(wav), None),
            (
                "EnCodec 24 kHz encode (random init, codebook 0)",
                encodec_wav,
                lambda: encodec.encode(encodec_wav),
                GOAL_ENCODEC,
            ),
        ]
        for name, audio, fn, goal in stages:
            seconds = time_calls(fn, CPU, warmup=1, repeats=1 if quick else 3).seconds
            speed = audio.shape[-1] / SAMPLE_RATE / seconds
            table.add(name, audio.shape[-1] / SAMPLE_RATE, seconds, speed, f"≥ {goal}×" if goal else "-")
            if goal:
                targets.append(
                    Target(f"{name.split(' (')[0]}: ≥ {goal}× real time on one thread", f"{speed:,.0f}×", speed >= goal)
                )
    table.notes.append(
        f"torch.set_num_threads(1); median of {1 if quick else 3} calls after one warm-up. "
        f"Building the random-init EnCodec (with its 3-step k-means calibration) took {build_s:.2f} s."
    )
    return table, encodec


def cache_table(quick: bool, encodec: EncodecTokenizer) -> Table:
    table = Table(
        "Feature cache: cold (extract + write Arrow) vs warm (load), training split",
        ["corpus", "tokenizer", "audio (s)", "melvq fit (s)", "cold (s)", "warm (s)", "cold / warm"],
    )
    corpora = CACHE_CORPORA[:1] if quick else CACHE_CORPORA
    import datasets  # noqa: F401  (cold means an empty cache, not a cold Python: import it untimed)

    with (
        tempfile.TemporaryDirectory(prefix="wgpt-bench-") as home,
        mock.patch.dict(os.environ, {"WGPT_HOME": home, "WGPT_OFFLINE": "1"}),
    ):
        for corpus in corpora:
            if not is_built(corpus):
                table.add(corpus, "-", "-", "-", "-", "-", "not measured: the corpus is not in this checkout")
                continue
            fit_s, melvq = timed(lambda: corpus_tokenizer(corpus, "melvq"))
            for tokenizer, fit in ((melvq, fit_s), (encodec, "-")):
                cold_s, dataset = timed(lambda: features(corpus, "train", tokenizer))
                warm_s, _ = timed(lambda: features(corpus, "train", tokenizer))
                table.add(
                    corpus,
                    f"{tokenizer.name} (k = {tokenizer.vocab_size})"
                    if tokenizer is melvq
                    else f"{tokenizer.name} (random init)",
                    sum(dataset["seconds"]),
                    fit,
                    cold_s,
                    warm_s,
                    f"{cold_s / warm_s:.0f}×",
                )
    table.notes.append(
        f"wl.features(corpus, 'train', tokenizer) twice in a fresh WGPT_HOME, default threads "
        f"({torch.get_num_threads()}); the melvq codebook is fitted once before (its own column)."
    )
    return table


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(ctx) -> list[Table]:
    speeds, encodec = speed_table(ctx.quick, ctx.targets)
    return [speeds, cache_table(ctx.quick, encodec)]
