"""Generation: frames/s with and without the KV cache at context 512, and real-time factors.

Paper shapes (``build_model(name, "paper")``), random weights, batch 1, sampling with
top-k 50. Speed does not depend on the weights' values. The hybrid makes its mel frames
with the MelVQ centroid source; the EnCodec source (decode the last ``ENCODEC_MEL_WINDOW``
tokens, untrained EnCodec) is timed in its own row.
"""

from __future__ import annotations

import time

import torch

from bench.frontend import test_signal
from bench.report import Table, Target, progress
from wgpt_lite.audio import FRAME_RATE, N_MELS, SAMPLE_RATE
from wgpt_lite.generate import ENCODEC_MEL_WINDOW, DecodedAudioMel, generate
from wgpt_lite.presets import build_model
from wgpt_lite.tokenizers import EncodecTokenizer, MelVQTokenizer

MODELS = ("gpt-s", "hybrid", "gpt-l")
GOAL_CACHE_SPEEDUP = 5  # gpt-s, cache vs no cache at context 512
GOAL_REAL_TIME = 1  # every model
GOAL_REAL_TIME_GPT_S = 5


def timed_generation(model, prompt: int, frames: int, use_cache: bool, source=None, tokenizer=None) -> float:
    """Frames per second of one ``generate`` call: the prompt's encoding and any window slides included."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (1, prompt), generator=generator)
    mel = torch.randn(1, prompt, N_MELS, generator=generator) if model.config.hybrid else None
    kwargs = dict(mel=mel, tokenizer=tokenizer, top_k=50, seed=0, use_cache=use_cache, source=source)
    generate(model, ids[:, :8], 2, **(kwargs | {"mel": None if mel is None else mel[:, :8]}))  # warm-up
    start = time.perf_counter()
    generate(model, ids, frames, **kwargs)
    return frames / (time.perf_counter() - start)


def run(ctx, models=MODELS, preset: str = "paper") -> list[Table]:
    quick = ctx.quick
    melvq = MelVQTokenizer(codebook=torch.randn(1024, N_MELS, generator=torch.Generator().manual_seed(0)))
    built = {}
    for name in models:
        torch.manual_seed(0)
        built[name] = build_model(name, preset).eval()
    context = built[models[0]].config.context
    tail = min(64, context // 4)  # new frames before the window is full

    cache_table = Table(
        f"KV cache at context {context} (cpu, batch 1)",
        ["model", "with cache (frames/s)", "without (frames/s)", "speed-up"],
        notes=[
            f"prompt of {context - tail} frames, then new frames up to the context (no slide); the cached run's "
            "figure includes encoding the prompt once, the uncached one re-encodes the window at every frame",
        ],
    )
    cached_frames, uncached_frames = (8, 2) if quick else (64, 8)
    for name, model in built.items():
        progress(f"generation: {name} with and without cache")
        with_cache = timed_generation(model, context - tail, cached_frames, True, tokenizer=melvq)
        without = timed_generation(model, context - tail, uncached_frames, False, tokenizer=melvq)
        cache_table.add(name, with_cache, without, f"{with_cache / without:.1f}×")
        if name == "gpt-s":
            speedup = with_cache / without
            ctx.targets.append(
                Target(
                    f"gpt-s generation: KV cache ≥ {GOAL_CACHE_SPEEDUP}× no cache at context {context} (cpu)",
                    f"{speedup:.1f}×",
                    speedup >= GOAL_CACHE_SPEEDUP,
                )
            )

    frames = 40 if quick else 2 * context
    prompt = min(FRAME_RATE, context // 2)
    rt_table = Table(
        "Real-time factor (× real time = frames/s ÷ 75)",
        ["model", "mel source", "frames", "window slides", "frames/s", "× real time"],
        notes=[
            f"prompt of {prompt} frames, then {frames} new frames with the KV cache; the window keeps "
            f"the last {context // 2} frames when it reaches {context} (one re-encoding per {context // 2} frames, "
            "included)",
        ],
    )
    slides = max(0, (prompt + frames - context - 1) // (context - context // 2) + 1)
    for name, model in built.items():
        progress(f"generation: {name} real time")
        rate = timed_generation(model, prompt, frames, True, tokenizer=melvq)
        source = "MelVQ centroid" if model.config.hybrid else "-"
        rt_table.add(name, source, frames, slides, rate, f"{rate / FRAME_RATE:.2f}×")
        goal = GOAL_REAL_TIME_GPT_S if name == "gpt-s" else GOAL_REAL_TIME
        ctx.targets.append(
            Target(
                f"{name} generation ≥ {goal}× real time (cpu)", f"{rate / FRAME_RATE:.2f}×", rate >= goal * FRAME_RATE
            )
        )
    if "hybrid" in built:
        progress("generation: hybrid with the EnCodec mel source")
        encodec = EncodecTokenizer.untrained(test_signal(2.0), device="cpu")
        source = DecodedAudioMel(encodec, ENCODEC_MEL_WINDOW)
        n = 16 if quick else 150
        rate = timed_generation(built["hybrid"], prompt, n, True, source=source)
        rt_table.add(
            "hybrid", f"EnCodec, last {ENCODEC_MEL_WINDOW} tokens decoded", n, 0, rate, f"{rate / FRAME_RATE:.2f}×"
        )
        rt_table.notes.append(
            f"EnCodec row: untrained EnCodec (SAMPLE_RATE {SAMPLE_RATE} Hz) decodes the last {ENCODEC_MEL_WINDOW} "
            "tokens for every new frame; reported, not a target"
        )
    return [cache_table, rt_table]
