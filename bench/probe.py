"""The machine's limit: the best matmul FLOP/s this torch reaches on this device, per dtype.

Square matmuls of growing size until one call takes longer than the time allowed; the
best rate is the probe. Model FLOPs utilisation (throughput.py) is measured against it.
"""

from __future__ import annotations

from functools import cache

import torch

from bench.report import Table
from bench.timing import time_calls

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
SIZES = (256, 512, 1024, 2048, 4096)


@cache
def matmul_rates(device_type: str, dtype_name: str, quick: bool) -> tuple[tuple[int, float], ...]:
    """((n, FLOP/s), ...) for n x n @ n x n matmuls, growing n while a call stays short.

    Measured once per process: the throughput section reuses the probe section's numbers."""
    device, dtype = torch.device(device_type), DTYPES[dtype_name]
    max_call_s = 0.2 if quick else 1.0
    generator = torch.Generator().manual_seed(0)
    rates = []
    for n in SIZES:
        a = torch.randn(n, n, generator=generator).to(device, dtype)
        b = torch.randn(n, n, generator=generator).to(device, dtype)
        timing = time_calls(lambda: a @ b, device, warmup=1, repeats=3)
        rates.append((n, 2 * n**3 / timing.seconds))
        if timing.seconds > max_call_s / 4:  # the next size is 8x the work
            break
    return tuple(rates)


def peak_flops(device: torch.device, dtype_name: str, quick: bool) -> tuple[int, float]:
    """(n, FLOP/s) of the fastest probe matmul."""
    return max(matmul_rates(device.type, dtype_name, quick), key=lambda rate: rate[1])


def run(ctx) -> list[Table]:
    table = Table(
        "Matmul probe (the machine's achievable FLOP/s)",
        ["device", "dtype", "best size n", "GFLOP/s", "GFLOP/s by size"],
    )
    for device in ctx.devices:
        for dtype_name in DTYPES:
            n, best = peak_flops(device, dtype_name, ctx.quick)
            by_size = ", ".join(
                f"{size}: {rate / 1e9:.3g}" for size, rate in matmul_rates(device.type, dtype_name, ctx.quick)
            )
            table.add(device.type, dtype_name, n, best / 1e9, by_size)
    table.notes.append(
        f"{torch.get_num_threads()} threads; n x n @ n x n = 2n³ FLOP; median of 3 calls after "
        "one warm-up; sizes grow while a call stays short."
    )
    return [table]
