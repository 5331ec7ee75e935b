"""Which device trains and which precision it trains in.

Precision follows the device: bf16 autocast on Ampere+ GPUs and on CPUs with AMX or
AVX512-BF16, fp16 with a GradScaler on older GPUs (a T4), fp32 otherwise. On a CPU without
those instructions bf16 autocast is emulated and was measured 25x slower than fp32 (AMD
EPYC, AVX2, 2 cores, mini GPT-S), hence fp32 there. ``WGPT_PRECISION=fp32|bf16|fp16``
overrides the choice, e.g. to get fp32 numbers on a CPU that would pick bf16.

    >>> pick_precision(torch.device("cpu")) in ("bf16", "fp32")
    True
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import torch

from wgpt_lite.infra.errors import TrainingError

PRECISIONS = ("bf16", "fp16", "fp32")
DEVICE_TYPES = ("cuda", "mps", "cpu")  # what the kit trains on


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    """``requested`` if given, else CUDA, else Apple's MPS, else the CPU.

    A ``requested`` device this machine lacks (``"cuda"`` without a GPU, ``"cuda:3"`` with
    one) or a string that names no device is refused here, in one line, before any data
    loads: the command line checks ``--device`` with this.

    >>> pick_device("cpu")
    device(type='cpu')
    >>> pick_device("tpu")
    Traceback (most recent call last):
    wgpt_lite.infra.errors.TrainingError: --device tpu: not a device the kit trains on (cuda, mps, cpu); leave ...
    """
    if not requested:
        return _best_device()
    try:
        device = torch.device(requested)
    except RuntimeError:  # a string that names no device type torch knows
        device = None
    if device is None or device.type not in DEVICE_TYPES:
        raise _refused(requested, f"not a device the kit trains on ({', '.join(DEVICE_TYPES)})")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise _refused(requested, "no CUDA device here (torch.cuda.is_available() is False)")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise _refused(requested, f"this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise _refused(requested, "no Apple MPS device here (torch.backends.mps.is_available() is False)")
    return device


def _best_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _refused(requested: str | torch.device, problem: str) -> TrainingError:
    return TrainingError(f"--device {requested}: {problem}; leave --device out to use {_best_device()}")


def cpu_has_bf16() -> bool:
    """True on x86 CPUs with native bf16 math (AMX or AVX512-BF16); Linux only, else False."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def pick_precision(device: torch.device) -> str:
    """``"bf16"``, ``"fp16"`` or ``"fp32"``: the fastest precision that trains safely on ``device``.

    ``WGPT_PRECISION`` wins when it is set.
    """
    requested = os.environ.get("WGPT_PRECISION", "").strip().lower()
    if requested:
        if requested not in PRECISIONS:
            raise TrainingError(
                f"WGPT_PRECISION={requested!r} is not a precision; choose one of {', '.join(PRECISIONS)}"
            )
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"
    if device.type == "cpu" and cpu_has_bf16():
        return "bf16"
    return "fp32"  # MPS autocast is still partial; emulated bf16 on a CPU is far slower


def autocast(device: torch.device, precision: str):
    """The autocast context for ``precision`` (a no-op for fp32)."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
