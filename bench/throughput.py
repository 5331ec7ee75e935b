"""Training throughput of GPT-S, hybrid and GPT-L (paper presets) and their model FLOPs utilisation.

Per device, per model: the plain reference (explicit attention, fp32), then the kit's step
in fp32, in bf16 autocast and under torch.compile. The kit's *default* path is what
``train()`` picks on that device: ``pick_precision`` and no compile (TrainConfig's default).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from unittest import mock

import torch

from bench import probe
from bench.profile import CATEGORIES, time_by_category
from bench.report import Table, Target, fmt, progress, ratio
from bench.timing import time_calls
from bench.workload import random_batch, reference_model, train_step
from wgpt_lite.experiment.budget import train_flops_per_token
from wgpt_lite.infra.device import cpu_has_bf16, pick_precision
from wgpt_lite.presets import PAPER, build_model

MODELS = ("gpt-s", "hybrid", "gpt-l")
DEFAULT_COMPILE = PAPER.budget.compile

# Targets from the issue.
MIN_SPEEDUP_VS_REFERENCE = 1.5
MAX_HYBRID_STEP_RATIO = 1.25
MIN_GPT_L_MFU = 0.5


@dataclass
class Plan:
    batch: int
    context: int
    repeats: dict[str, int]  # timed steps per model, after one untimed first step
    compile: bool
    emulated_bf16_shape: tuple[int, int]  # (batch, context) where bf16 is emulated (no AMX / AVX512-BF16)
    note: str = ""


def make_plan(quick: bool) -> Plan:
    if quick:
        return Plan(
            batch=2,
            context=128,
            repeats={"gpt-s": 2, "hybrid": 2, "gpt-l": 1},
            compile=False,
            emulated_bf16_shape=(1, 8),
            note="--quick: batch 2 × 128 instead of 8 × 512, 1-2 timed steps, torch.compile skipped "
            "(its warm-up takes about a minute a model).",
        )
    return Plan(
        batch=8, context=512, repeats={"gpt-s": 3, "hybrid": 3, "gpt-l": 2}, compile=True, emulated_bf16_shape=(1, 32)
    )


@dataclass
class Row:
    device: torch.device
    model: str
    path: str  # "reference", "fp32", "bf16", "compile"
    precision: str
    batch: int
    context: int
    first_s: float | None = None  # the first step: optimizer state, compile
    step_s: float | None = None
    flops_per_token: float = 0.0
    linear_flops_per_token: float = 0.0  # the 6 N part: the linear layers' matmuls
    default: bool = False
    reduced: bool = False  # the tiny shape where bf16 is emulated: a ratio to fp32, not a throughput to compare
    failure: str = ""
    notes: list[str] = field(default_factory=list)
    profile: dict[str, float] | None = None  # seconds by category (profile.py) of one more step

    @property
    def tokens_per_s(self) -> float:
        return self.batch * self.context / self.step_s

    @property
    def flops_per_s(self) -> float:
        return self.flops_per_token * self.tokens_per_s

    def same_shape(self, other: Row) -> bool:
        return (self.device, self.model, self.batch, self.context) == (
            other.device,
            other.model,
            other.batch,
            other.context,
        )


def measure(row: Row, repeats: int, compile: bool = False, profile: bool = False) -> Row:
    """Fill in ``row``'s timings (and profile); a failure (e.g. a compile error) is recorded, not raised."""
    torch.manual_seed(0)
    model = reference_model(row.model) if row.path == "reference" else build_model(row.model, "paper")
    row.flops_per_token = train_flops_per_token(model, row.context)
    row.linear_flops_per_token = train_flops_per_token(model, context=0)
    step = train_step(
        model,
        random_batch(model, row.batch, row.context, row.device),
        row.device,
        row.precision,
        compile,
        kit_optimizer=row.path != "reference",
    )
    try:
        row.first_s = time_calls(step, row.device, warmup=0, repeats=1).seconds
        row.step_s = time_calls(step, row.device, warmup=0, repeats=repeats).seconds
        if profile:
            row.profile = time_by_category(step)
    except Exception as err:  # torch.compile raises many kinds; the table says which
        row.failure = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
    progress(
        f"{row.device.type} {row.model} {row.path} {row.batch}×{row.context}: "
        + (row.failure or f"first step {row.first_s:.2f} s, then {row.step_s:.3g} s")
    )
    return row


def device_rows(device: torch.device, plan: Plan) -> list[Row]:
    """Every measurement on one device, reference first for each model."""
    default_precision = pick_precision(device)
    native_bf16 = device.type == "cuda" or cpu_has_bf16()
    full = (plan.batch, plan.context) if device.type == "cpu" else (8, 512)  # a GPU always gets the paper shape
    profile = device.type == "cpu"  # the profiler's CPU op times say little about GPU kernels
    rows = []
    for name in MODELS:
        repeats = plan.repeats[name]
        rows.append(measure(Row(device, name, "reference", "fp32", *full), repeats, profile=profile))
        rows.append(
            measure(
                Row(device, name, "fp32", "fp32", *full, default=default_precision == "fp32"),
                repeats,
                profile=profile and default_precision == "fp32",
            )
        )
        if native_bf16:
            rows.append(
                measure(
                    Row(device, name, "bf16", "bf16", *full, default=default_precision == "bf16"),
                    repeats,
                    profile=profile and default_precision == "bf16",
                )
            )
        else:  # emulated bf16 is so slow that only a tiny shape fits, beside fp32 at that shape
            small = plan.emulated_bf16_shape
            fp32 = measure(Row(device, name, "fp32", "fp32", *small, reduced=True), 1)
            bf16 = measure(Row(device, name, "bf16", "bf16", *small, reduced=True), 1)
            bf16.notes.append(
                f"emulated bf16 (no AMX/AVX512-BF16): {ratio(bf16.step_s, fp32.step_s)} the fp32 step "
                f"at {small[0]} × {small[1]}, so it is not run at {full[0]} × {full[1]}"
            )
            rows += [fp32, bf16]
        if plan.compile or device.type == "cuda":
            compiled = measure(Row(device, name, "compile", default_precision, *full), repeats, compile=True)
            compiled.notes.append(f"torch.compile, {default_precision}; first step includes compiling")
            eager = next(r for r in rows if r.model == name and r.default and r.same_shape(compiled))
            if compiled.step_s and compiled.step_s > eager.step_s:
                compiled.notes.append(f"slower than eager ({ratio(compiled.step_s, eager.step_s)} its step)")
            rows.append(compiled)
        else:
            rows.append(Row(device, name, "compile", default_precision, *full, failure="not measured in --quick"))
    return rows


def default_row(rows: list[Row], device: torch.device, model: str) -> Row:
    return next(r for r in rows if r.device == device and r.model == model and r.default and not r.failure)


def reference_row(rows: list[Row], row: Row) -> Row:
    return next(r for r in rows if r.path == "reference" and r.same_shape(row))


def throughput_table(rows: list[Row], plan: Plan) -> Table:
    table = Table(
        "Training throughput (forward + backward + clip + AdamW)",
        [
            "device",
            "model",
            "path",
            "batch × context",
            "first step (s)",
            "step (s)",
            "tokens/s",
            "vs reference",
            "notes",
        ],
    )
    for row in rows:
        label = row.path + (" (default)" if row.default else "")
        if row.failure:
            table.add(
                row.device.type, row.model, label, f"{row.batch} × {row.context}", "-", "-", "-", "-", row.failure
            )
            continue
        reference = next((r for r in rows if r.path == "reference" and r.same_shape(row) and not r.failure), None)
        speedup = ratio(row.tokens_per_s, reference.tokens_per_s) if reference else "-"
        table.add(
            row.device.type,
            row.model,
            label,
            f"{row.batch} × {row.context}",
            row.first_s,
            row.step_s,
            row.tokens_per_s,
            speedup,
            "; ".join(row.notes),
        )
    if not torch.cuda.is_available():
        table.add(
            "cuda",
            "all",
            "bf16, compile, fused AdamW",
            "8 × 512",
            "-",
            "-",
            "-",
            "-",
            "not measured (no GPU in this environment); the same code runs there when CUDA is available",
        )
    table.notes.append(
        "reference: the same model, parameters and step, with attention written out "
        "(scores, causal mask, softmax, weighted sum; fp32, eager). Paths: fp32 / bf16 autocast "
        "eager, and torch.compile at the default precision. Step: median of the timed steps."
    )
    if plan.note:
        table.notes.append(plan.note)
    return table


def mfu_table(rows: list[Row], quick: bool) -> Table:
    table = Table(
        "Model FLOPs utilisation (training FLOP/s against the matmul probe)",
        ["device", "model", "path", "batch × context", "GFLOP/token", "achieved GFLOP/s", "probe GFLOP/s", "MFU"],
    )
    for row in rows:
        if row.failure or row.reduced:
            continue
        _, peak = probe.peak_flops(row.device, row.precision, quick)
        table.add(
            row.device.type,
            row.model,
            row.path + (" (default)" if row.default else ""),
            f"{row.batch} × {row.context}",
            row.flops_per_token / 1e9,
            row.flops_per_s / 1e9,
            f"{peak / 1e9:.3g} ({row.precision})",
            f"{row.flops_per_s / peak:.0%}",
        )
    table.notes.append(
        "Training FLOPs per token = 6 N + 12 · (sum of attention widths) · T, with N the parameters "
        "outside the embedding tables and attention counted in full (PaLM, appendix B); a causal "
        "kernel needs about half of the attention term. MFU = achieved / probe of the same dtype. "
        "Rows at the emulated-bf16 shape are left out: a 1-row matmul says nothing about the limit."
    )
    return table


def profile_table(rows: list[Row]) -> Table:
    table = Table(
        "Where a step's time goes (torch.profiler, one more step of the same run)",
        [
            "model",
            "path",
            "batch × context",
            "matmul",
            "attention",
            "optimizer + clip",
            "other",
            "linear-layer matmuls at",
        ],
    )
    for row in rows:
        if not row.profile:
            continue
        share = {key: f"{value:.0%}" for key, value in shares(row).items()}
        # The kit's mm/addmm are the linear layers only (attention is inside the fused kernel), so their
        # rate is 6 N FLOPs per token over their time; the reference's also hold attention's matmuls.
        rate = row.linear_flops_per_token * row.batch * row.context / row.profile["matmul"]
        rate = f"{rate / 1e9:.3g} GFLOP/s" if row.path != "reference" else "-"
        table.add(row.model, row.path, f"{row.batch} × {row.context}", *share.values(), rate)
    table.notes.append(
        "Shares of the profiled CPU op time. attention: the fused kernel (kit) or bmm, softmax and "
        "masked_fill (reference; its scaling division counts under other). other: layer norms, "
        "GELU, residual adds, copies, embeddings, cross-entropy. The matmul rate is 6 N FLOPs per token over the "
        "profiled mm/addmm time; profiled op times are approximate and can put it above the "
        "square-matmul probe, which other shapes beat by some percent."
    )
    return table


def shares(row: Row) -> dict[str, float]:
    return {key: row.profile[key] / row.profile["total"] for key in CATEGORIES}


def speedup_gap(kit: Row, reference: Row, quick: bool) -> str:
    """Why the kit is not faster: what its own step is made of, and how much would have to go."""
    share = shares(kit)
    _, peak = probe.peak_flops(kit.device, kit.precision, quick)
    matmul_rate = kit.linear_flops_per_token * kit.batch * kit.context / (share["matmul"] * kit.step_s)
    missing = kit.step_s - reference.step_s / MIN_SPEEDUP_VS_REFERENCE
    attention = share["attention"] * kit.step_s
    lever = (
        f"an attention kernel {attention / (attention - missing):.2f}× faster"
        if missing < attention
        else f"more than the fused attention's whole {attention:.2f} s"
    )
    return (
        f"the kit's step is {share['matmul']:.0%} linear-layer matmuls at ~{min(matmul_rate / peak, 1):.0%} of "
        f"the probe, {share['attention']:.0%} fused attention, {share['other'] + share['optimizer']:.0%} the rest; "
        f"the target needs {missing:.2f} s less a step: {lever} (in fp32: this CPU has no native bf16)"
    )


def targets(rows: list[Row], quick: bool) -> list[Target]:
    found = []
    device = rows[0].device
    for name in MODELS:
        kit = default_row(rows, device, name)
        reference = reference_row(rows, kit)
        speedup = kit.tokens_per_s / reference.tokens_per_s
        met = speedup >= MIN_SPEEDUP_VS_REFERENCE
        found.append(
            Target(
                f"{name}: default path ≥ {MIN_SPEEDUP_VS_REFERENCE}× reference ({device.type})",
                f"{speedup:.2f}× ({fmt(kit.tokens_per_s)} vs {fmt(reference.tokens_per_s)} tokens/s)",
                met,
                "" if met else speedup_gap(kit, reference, quick),
            )
        )
    hybrid, small = default_row(rows, device, "hybrid"), default_row(rows, device, "gpt-s")
    step_ratio = hybrid.step_s / small.step_s
    extra = {key: hybrid.profile[key] - small.profile[key] for key in CATEGORIES}
    met = step_ratio <= MAX_HYBRID_STEP_RATIO
    found.append(
        Target(
            f"hybrid step ≤ {MAX_HYBRID_STEP_RATIO}× GPT-S step ({device.type})",
            f"{step_ratio:.2f}× ({hybrid.step_s:.3g} vs {small.step_s:.3g} s)",
            met,
            ""
            if met
            else "the hybrid's extra profiled time: "
            + ", ".join(f"{key} {seconds:+.2f} s" for key, seconds in extra.items()),
        )
    )
    large = default_row(rows, device, "gpt-l")
    _, peak = probe.peak_flops(device, large.precision, quick)
    mfu = large.flops_per_s / peak
    share = shares(large)
    met = mfu >= MIN_GPT_L_MFU
    found.append(
        Target(
            f"GPT-L default path ≥ {MIN_GPT_L_MFU:.0%} of the matmul probe ({device.type})",
            f"{mfu:.0%} at {large.batch} × {large.context}",
            met,
            ""
            if met
            else f"matmuls are {share['matmul']:.0%} of the step; the rest (other "
            f"{share['other']:.0%}, optimizer {share['optimizer']:.0%}, attention {share['attention']:.0%}) "
            "does few FLOPs",
        )
    )
    return found


def run(ctx) -> list[Table]:
    plan = make_plan(ctx.quick)
    # A fresh inductor cache: the compile rows' first step is then a cold compile, as on a new machine.
    with (
        tempfile.TemporaryDirectory(prefix="wgpt-bench-inductor-") as cache,
        mock.patch.dict(os.environ, {"TORCHINDUCTOR_CACHE_DIR": cache}),
    ):
        rows = [row for device in ctx.devices for row in device_rows(device, plan)]
    ctx.targets += targets(rows, ctx.quick)
    return [throughput_table(rows, plan), mfu_table(rows, ctx.quick), profile_table(rows)]
