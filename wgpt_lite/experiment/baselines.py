"""Baselines every table shows: what a model must beat before its NLL means anything.

Both are fitted on the training split's tokens and scored on exactly the crops the models
are scored on (``wl.eval_crops``: targets are tokens ``1..T`` of each crop, each predicted
from the tokens before it), so their rows sit in the same table as the models':

- ``repeat``: "the next token is the previous one". As a distribution: the previous token
  with the probability that tokens repeat in the training split, the rest spread evenly
  over the other ids. Its top-1 accuracy is the repeat rate of the scored crops.
- ``bigram``: the next token from the previous one alone, a bigram table with interpolated
  Kneser-Ney smoothing (absolute discount 0.75), so that pairs never seen in training keep
  some probability. Notebook 02's in-sample bigram entropy is this table scored on the data
  it was counted on, which no model can beat; this one is honest.

    >>> import torch
    >>> train = [torch.tensor([1, 1, 1, 2, 2, 2, 1, 1])]
    >>> tokens = torch.tensor([[1, 1, 2, 2]])
    >>> scores = score_baseline(fit_repeat(train, vocab_size=4), (tokens, None))
    >>> round(scores["acc"], 3), round(scores["nll"], 3)    # repeats 2 of 3 targets; trained repeat rate 5/7
    (0.667, 1.008)
"""

from __future__ import annotations

import math

import torch

BASELINES = ("repeat", "bigram")
DISCOUNT = 0.75  # Kneser-Ney's usual absolute discount


def _pairs(streams: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(previous, next) token of every adjacent pair in the streams."""
    kept = [s.long() for s in streams if len(s) > 1]
    return torch.cat([s[:-1] for s in kept]), torch.cat([s[1:] for s in kept])


def fit_repeat(streams: list[torch.Tensor], vocab_size: int) -> torch.Tensor:
    """The repeat baseline as a [vocab, vocab] table of log-probabilities P(next | previous)."""
    previous, following = _pairs(streams)
    repeat = (previous == following).double().mean().clamp(1e-6, 1 - 1e-6).item()
    table = torch.full((vocab_size, vocab_size), math.log((1 - repeat) / (vocab_size - 1)), dtype=torch.float64)
    table.fill_diagonal_(math.log(repeat))
    return table


def fit_bigram(streams: list[torch.Tensor], vocab_size: int, discount: float = DISCOUNT) -> torch.Tensor:
    """An interpolated Kneser-Ney bigram as a [vocab, vocab] table of log-probabilities P(next | previous).

    P(w | v) = max(c(v, w) - d, 0) / c(v) + d * N(v, .) / c(v) * P_cont(w), where N(v, .) counts
    the distinct followers of v and P_cont(w) how many distinct tokens w follows (add-one
    smoothed, so an id never seen keeps a little). A v never seen uses P_cont alone.
    """
    previous, following = _pairs(streams)
    counts = torch.zeros(vocab_size * vocab_size, dtype=torch.float64)
    counts.index_add_(0, previous * vocab_size + following, torch.ones(len(previous), dtype=torch.float64))
    counts = counts.view(vocab_size, vocab_size)
    seen = (counts > 0).double()
    continuation = (seen.sum(0) + 1) / (seen.sum() + vocab_size)  # P_cont(w)
    totals = counts.sum(1, keepdim=True)
    backoff = discount * seen.sum(1, keepdim=True) / totals.clamp(min=1)
    probabilities = (counts - discount).clamp(min=0) / totals.clamp(min=1) + backoff * continuation
    probabilities[totals.squeeze(1) == 0] = continuation  # an unseen previous token: continuation alone
    return probabilities.log()


def fit_baseline(name: str, streams: list[torch.Tensor], vocab_size: int) -> torch.Tensor:
    """``"repeat"`` or ``"bigram"``, fitted on ``streams`` (the training split's tokens)."""
    return {"repeat": fit_repeat, "bigram": fit_bigram}[name](streams, vocab_size)


def score_baseline(table: torch.Tensor, batch) -> dict:
    """NLL (nats/token), PPL and top-1 accuracy of a baseline's table on ``(tokens, mel)`` crops,
    counting the same targets as ``train.evaluate`` (tokens 1..T of every crop)."""
    tokens = batch[0].long()
    previous, targets = tokens[:, :-1].flatten(), tokens[:, 1:].flatten()
    rows = table[previous]
    nll = -rows.gather(1, targets[:, None]).mean().item()
    acc = (rows.argmax(1) == targets).double().mean().item()
    return {"nll": nll, "ppl": math.exp(nll), "acc": acc}
