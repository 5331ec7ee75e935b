"""Where a training step's time goes, from one step under torch.profiler (CPU op times).

Categories: matmuls of the linear layers (mm, addmm), attention (the fused kernel, or
the reference's bmm, softmax and mask), the optimizer step with clipping, and the rest
(layer norms, GELU, residual adds, copies, embeddings, cross-entropy). The profiler adds a
little overhead per op, so shares are what to read, not absolute times.
"""

from __future__ import annotations

from collections.abc import Callable

from torch.profiler import ProfilerActivity, profile

from wgpt_lite.train import OPTIMIZER_RANGE

MATMUL_OPS = {"aten::mm", "aten::addmm"}
ATTENTION_OPS = {"aten::bmm", "aten::_softmax", "aten::_softmax_backward_data", "aten::masked_fill_"}
ATTENTION_KERNELS = ("scaled_dot_product", "flash_attention", "efficient_attention")
CATEGORIES = ("matmul", "attention", "optimizer", "other")


def is_attention(name: str) -> bool:
    return name in ATTENTION_OPS or any(kernel in name for kernel in ATTENTION_KERNELS)


def time_by_category(step: Callable[[], object]) -> dict[str, float]:
    """Seconds per category for one call of ``step`` (warm it up first), plus ``total``."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    averages = prof.key_averages()
    total = sum(event.self_cpu_time_total for event in averages)
    seconds = {
        "matmul": sum(e.self_cpu_time_total for e in averages if e.key in MATMUL_OPS),
        "attention": sum(e.self_cpu_time_total for e in averages if is_attention(e.key)),
        "optimizer": sum(e.cpu_time_total for e in averages if e.key == OPTIMIZER_RANGE),
    }
    seconds["other"] = total - sum(seconds.values())
    seconds["total"] = total
    return {key: value / 1e6 for key, value in seconds.items()}  # the profiler counts microseconds
