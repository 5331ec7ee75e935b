"""Several processes, one training run: PyTorch's DistributedDataParallel, launched by ``torchrun``.

    torchrun --nproc_per_node 4 -m wgpt_lite train --model hybrid --corpus librispeech

``torchrun`` starts one process per GPU (a *rank*) and tells each its ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE``; without them (a plain ``python -m wgpt_lite``) the world
is one process and every function here is a no-op, so the single-process path is exactly
what it was. With them, ``process_group`` joins the ranks (NCCL on CUDA, gloo on the CPU)
and puts each rank on ``cuda:LOCAL_RANK``. What ``train`` then does differently:

- **the same batch as one process.** Every rank draws the whole global batch of
  ``batch_size`` crops from the same seeded stream and keeps its slice (``my_share``), so
  the union of the slices is the single-process batch, step after step, resumed or not.
  Each rank's loss is a mean over an equal share of the tokens, and DDP averages the
  gradients, so the update is that of one process with the whole batch (up to the order
  of float sums). The loss logged is the global mean (``mean_over_ranks``).
- **rank 0 writes.** It alone holds the run lock, logs, and writes checkpoints and
  ``best.pt``; the others wait for it at ``barrier`` where they read what it wrote.
- **every rank evaluates.** The weights are the same on every rank, so is the result;
  scoring everywhere needs no message and cannot deadlock (no rank waits for another
  inside ``evaluate``), and costs no time, the other ranks would only wait. Rank 0's
  early-stopping decision is still sent to all (``from_rank_zero``): one float rounding
  apart must never leave one rank training while another has stopped.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist

from wgpt_lite.infra.errors import TrainingError


def world_size() -> int:
    """Processes in this run: torchrun's ``WORLD_SIZE``, 1 without torchrun."""
    return int(os.environ.get("WORLD_SIZE", 1))


def rank() -> int:
    """This process's place in the run, 0 to ``world_size() - 1``."""
    return int(os.environ.get("RANK", 0))


def is_main() -> bool:
    """True on the rank that logs and writes (rank 0), and on a process of its own."""
    return rank() == 0


def check_batch(batch_size: int) -> None:
    """Refuse, in one line, a global batch that does not split evenly over the ranks.

    >>> check_batch(4)   # one process: any batch
    """
    world = world_size()
    if batch_size % world:
        raise TrainingError(
            f"batch_size {batch_size} does not split over --nproc_per_node {world} processes; "
            f"use a number of processes that divides {batch_size}"
        )


@contextmanager
def process_group():
    """Join the other ranks for the block (NCCL on CUDA, gloo otherwise); a no-op for a single process."""
    if world_size() == 1:
        yield
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))  # "cuda" now means this rank's GPU
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """This rank's device: ``cuda:LOCAL_RANK`` for CUDA under torchrun, else ``device`` as it is."""
    if world_size() == 1 or device.type != "cuda":
        return device
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel (it averages the gradients in backward); the model itself alone."""
    if world_size() == 1:
        return model
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    )


def my_share(*batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """This rank's slice of each global batch tensor (the whole tensors for a single process)."""
    share = batch[0].shape[0] // world_size()
    return tuple(tensor[rank() * share : (rank() + 1) * share] for tensor in batch)


def mean_over_ranks(loss: torch.Tensor) -> float:
    """The mean of every rank's loss: the loss of the global batch (equal shares, so a plain mean)."""
    if world_size() == 1:
        return loss.item()
    total = loss.detach().float().clone()
    dist.all_reduce(total)
    return total.item() / world_size()


def from_rank_zero(value):
    """Rank 0's ``value`` (any picklable object) on every rank."""
    if world_size() == 1:
        return value
    message = [value]
    dist.broadcast_object_list(message, src=0)
    return message[0]


def barrier() -> None:
    """Wait until every rank is here (e.g. until rank 0 has written what the others read next)."""
    if world_size() > 1:
        dist.barrier()


@contextmanager
def _rank_zero_first():
    """Run the block on rank 0 first, then on the others: rank 0 fills a cache (features, a fitted
    tokenizer) that the others then only read, instead of every rank racing to make it."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def first_on_rank_zero(make, *args, **kwargs):
    """``make(*args, **kwargs)``, made on rank 0 first and then on the other ranks:
    what the ranks of a run build from a corpus (its features, a fitted tokenizer) is cached once, by rank 0.

    >>> first_on_rank_zero(max, 2, 3)   # one process: just the call
    3
    """
    with _rank_zero_first():
        return make(*args, **kwargs)
