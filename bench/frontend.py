"""The front end: log-mel, MelVQ and EnCodec speed on one thread, EnCodec extraction clip by
clip vs batched on each device, and the feature cache cold vs warm.

EnCodec runs with random-init weights (``EncodecTokenizer.untrained``): the pretrained
weights cannot be downloaded here, and speed does not depend on the weights' values.
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from unittest import mock

import torch

from bench.report import Table, Target, ratio
from bench.timing import time_calls
from wgpt_lite.audio import SAMPLE_RATE, log_mel
from wgpt_lite.data.corpora import is_built
from wgpt_lite.data.feature_cache import (
    ENCODEC_BATCH_SECONDS,
    EXTRACT_THREADS,
    corpus_tokenizer,
    encodes_in_batches,
    features,
    length_batches,
)
from wgpt_lite.tokenizers import EncodecTokenizer, MelVQTokenizer

CPU = torch.device("cpu")
MELVQ_K = 1024
CACHE_CORPORA = ("sample-speech", "sample-music")  # committed in data/sample: no build, no network
# Clip lengths (s) for the extraction table: spread like a corpus's clips, so that batches pad.
EXTRACTION_CLIPS = [4 + 8 * i / 15 for i in range(16)]  # 4 to 12 s, 128 s in all
EXTRACTION_CLIPS_QUICK = [2 + 3 * i / 5 for i in range(6)]  # 2 to 5 s, 21 s in all

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
        build_s, encodec = timed(lambda: EncodecTokenizer.untrained(encodec_wav[: 2 * SAMPLE_RATE], device=CPU))
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


def extraction_table(
    encodec: EncodecTokenizer, devices: list[torch.device], clip_seconds: list[float], repeats: int
) -> Table:
    """EnCodec's real-time factor over a set of clips: one by one in the extraction threads, and in
    the length batches ``features()`` makes on a GPU, side by side on each device."""
    table = Table(
        "EnCodec extraction: clip by clip vs batched (× real time = audio seconds per wall second)",
        ["device", "path", "clips", "audio (s)", "wall (s)", "× real time", "vs clip by clip"],
    )
    clips = [test_signal(seconds, seed=i) for i, seconds in enumerate(clip_seconds)]
    audio_s = sum(clip.shape[-1] for clip in clips) / SAMPLE_RATE
    batches = length_batches(clip_seconds, ENCODEC_BATCH_SECONDS)
    for device in devices:
        tok = (
            encodec
            if device == encodec.device
            else EncodecTokenizer(copy.deepcopy(encodec.model), device=device, weights=encodec.weights)
        )

        def clip_by_clip():
            with ThreadPoolExecutor(EXTRACT_THREADS) as pool:
                list(pool.map(tok.encode, clips))

        def batched():
            for batch in batches:
                tok.encode_batch([clips[i] for i in batch])

        with torch.inference_mode():
            one_s = time_calls(clip_by_clip, device, warmup=1, repeats=repeats).seconds
            batched_s = time_calls(batched, device, warmup=1, repeats=repeats).seconds
        used = "features() runs this"
        paths = [
            (f"clip by clip, {EXTRACT_THREADS} threads", one_s, not encodes_in_batches(tok)),
            (f"batched: {len(batches)} of ≤ {ENCODEC_BATCH_SECONDS} s, padded", batched_s, encodes_in_batches(tok)),
        ]
        for path, seconds, is_used in paths:
            label = f"{path} ({used})" if is_used else path
            table.add(device.type, label, len(clips), audio_s, seconds, audio_s / seconds, ratio(one_s, seconds))
    table.notes.append(
        f"{len(clips)} clips of {min(clip_seconds):.0f} to {max(clip_seconds):.0f} s, random-init EnCodec "
        f"(same compute as the pretrained one), default torch threads ({torch.get_num_threads()}); "
        f"median of {repeats} passes after one warm-up. Batched: clips sorted by length, right-padded to the "
        "longest of their batch (EnCodec is causal: the padding changes no kept token), the padding computed "
        "and thrown away. Encoding only: reading the files and the log-mel are left out."
    )
    return table


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
    extraction = extraction_table(
        encodec, ctx.devices, EXTRACTION_CLIPS_QUICK if ctx.quick else EXTRACTION_CLIPS, repeats=1 if ctx.quick else 3
    )
    return [speeds, extraction, cache_table(ctx.quick, encodec)]
