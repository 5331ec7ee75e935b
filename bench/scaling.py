"""How a training step grows with context length and with model width (GPT-S and hybrid, default path).

Expected: time follows the model FLOPs, linear in T for the projections and MLP plus a
T² attention term, and about quadratic in width (12 L d² of the blocks) once the
vocabulary head (linear in d) is no longer the larger part. The fused attention keeps
no T × T matrix, so a step's memory should grow about linearly in T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from bench.report import Table, progress
from bench.timing import time_calls
from bench.workload import random_batch, train_step
from wgpt_lite.experiment.budget import train_flops_per_token
from wgpt_lite.infra.device import pick_precision
from wgpt_lite.presets import build_model

MODELS = ("gpt-s", "hybrid")
HEAD_SIZE = 64  # widths keep the paper presets' head size, so only the number of heads changes
AS_EXPECTED = (0.75, 1.33)  # (time growth) / (FLOP growth) inside this band reads "as expected"


@dataclass
class Plan:
    batch: int
    contexts: tuple[int, ...]
    widths: tuple[int, ...]
    width_context: int
    repeats: int
    note: str = ""


def make_plan(quick: bool) -> Plan:
    if quick:
        return Plan(
            batch=2,
            contexts=(128, 256),
            widths=(128, 256),
            width_context=128,
            repeats=1,
            note="--quick: batch 2, two points per axis, one timed step each.",
        )
    return Plan(batch=4, contexts=(128, 256, 512, 1024), widths=(128, 256, 512), width_context=256, repeats=2)


@dataclass
class Point:
    x: int  # the context or the width
    step_s: float
    flops: float  # model FLOPs of the step
    peak_bytes: int | None


def measure(name: str, device: torch.device, plan: Plan, context: int, **overrides) -> tuple[float, float, int | None]:
    torch.manual_seed(0)
    model = build_model(name, "paper", context=context, **overrides)
    step = train_step(model, random_batch(model, plan.batch, context, device), device, pick_precision(device))
    timing = time_calls(step, device, warmup=1, repeats=plan.repeats, memory=True)
    progress(f"{name} T={context} width={model.config.n_embd}: {timing.seconds:.3g} s")
    return timing.seconds, train_flops_per_token(model, context) * plan.batch * context, timing.peak_bytes


def growth_table(title: str, axis: str, points: dict[str, list[Point]], plan: Plan) -> Table:
    table = Table(title, ["model", axis, "step (s)", "time ×", "FLOPs ×", "peak step memory (MiB)", "memory ×"])
    for name, series in points.items():
        first = series[0]
        for point in series:
            memory = "-" if point.peak_bytes is None else point.peak_bytes / 2**20
            memory_growth = (
                f"{point.peak_bytes / first.peak_bytes:.2f}" if point.peak_bytes and first.peak_bytes else "-"
            )
            table.add(
                name,
                point.x,
                point.step_s,
                f"{point.step_s / first.step_s:.2f}",
                f"{point.flops / first.flops:.2f}",
                memory,
                memory_growth,
            )
        table.notes.append(verdict(name, axis, series))
    table.notes.append(
        f"batch {plan.batch}; default path (precision by device, eager); ratios against the first row; "
        "peak step memory: resident memory a step adds on top of the model and optimizer state "
        "(activations, gradients, temporaries)."
    )
    if plan.note:
        table.notes.append(plan.note)
    return table


def exponent(first: float, last: float, x_first: int, x_last: int) -> float:
    """The power p in y ∝ x^p between two points."""
    return math.log(last / first) / math.log(x_last / x_first)


def verdict(name: str, axis: str, series: list[Point]) -> str:
    first, last = series[0], series[-1]
    time_p = exponent(first.step_s, last.step_s, first.x, last.x)
    flops_p = exponent(first.flops, last.flops, first.x, last.x)
    relative = (last.step_s / first.step_s) / (last.flops / first.flops)
    reading = (
        "as the FLOPs predict"
        if AS_EXPECTED[0] <= relative <= AS_EXPECTED[1]
        else "faster than the FLOPs: the larger shapes run further below the machine's rate"
        if relative > 1
        else "slower than the FLOPs: fixed per-step costs weigh more on the small shapes"
    )
    text = (
        f"{name}, {axis} {first.x} → {last.x}: time ∝ {axis}^{time_p:.2f}, FLOPs ∝ {axis}^{flops_p:.2f}: "
        f"time grows {reading}"
    )
    if first.peak_bytes and last.peak_bytes:
        text += f"; memory ∝ {axis}^{exponent(first.peak_bytes, last.peak_bytes, first.x, last.x):.2f}"
    return text + "."


def run(ctx) -> list[Table]:
    plan = make_plan(ctx.quick)
    device = ctx.devices[0]
    by_context, by_width = {}, {}
    for name in MODELS:
        by_context[name] = [Point(t, *measure(name, device, plan, t)) for t in plan.contexts]
        by_width[name] = [
            Point(w, *measure(name, device, plan, plan.width_context, n_embd=w, n_head=w // HEAD_SIZE))
            for w in plan.widths
        ]
    return [
        growth_table(f"Step time and memory against context length (width 256, {device.type})", "T", by_context, plan),
        growth_table(
            f"Step time and memory against width (T = {plan.width_context}, 4 layers, {device.type})",
            "width",
            by_width,
            plan,
        ),
    ]
