"""Wall-clock timing and peak memory of a callable, on the CPU or a GPU."""

from __future__ import annotations

import ctypes
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Timing:
    seconds: float  # median of the timed calls
    calls: int
    peak_bytes: int | None = None  # memory a call needed on top of what was resident before it


def time_calls(
    fn: Callable[[], object], device: torch.device, warmup: int = 1, repeats: int = 3, memory: bool = False
) -> Timing:
    """Median wall time of ``repeats`` calls after ``warmup`` untimed ones (the first call
    allocates optimizer state, compiles, fills caches). With ``memory``, also the peak
    memory of one extra call above the memory resident before it."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    peak = call_peak_bytes(fn, device) if memory else None
    return Timing(statistics.median(times), repeats, peak)


# --- peak memory --------------------------------------------------------------------------
# On CUDA, torch's allocator counts it. On the CPU, torch keeps no statistics, so we read the
# kernel's peak resident set size (VmHWM), which Linux lets a process reset (clear_refs 5).
# glibc keeps freed blocks resident and would serve the call's tensors from them unseen;
# malloc_trim(0) first hands every free page back, so each page the call touches counts.


def call_peak_bytes(fn: Callable[[], object], device: torch.device) -> int | None:
    """Memory one call of ``fn`` needs above what is resident before it; None where unmeasurable."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        _reset_peak_rss()
        before = _status_bytes("VmRSS")
    except (OSError, AttributeError, ValueError):
        return None  # not Linux with glibc
    fn()
    return _status_bytes("VmHWM") - before


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as status:
        match = re.search(rf"^{key}:\s+(\d+) kB", status.read(), re.MULTILINE)
    if not match:
        raise ValueError(f"/proc/self/status has no {key}")
    return int(match.group(1)) * 1024
