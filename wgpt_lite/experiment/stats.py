"""What a token stream looks like before any model: counts, entropy, simple baselines.

A language model's NLL only means something next to what cheaper predictors get:
``unigram_entropy`` is the NLL of always guessing by token frequency, and
``bigram_entropy`` of guessing from the previous token alone. The paper's GPT-S reaches
2.02 nats/token on LibriSpeech; where do these baselines sit on your data?
"""

from __future__ import annotations

import math

import torch


def token_streams(dataset) -> list[torch.Tensor]:
    """The ``tokens`` column of a feature dataset as LongTensors, one per clip."""
    return [torch.as_tensor(row, dtype=torch.long) for row in dataset["tokens"]]


def token_counts(dataset, vocab_size: int) -> torch.Tensor:
    """How often each token id occurs in the dataset: LongTensor [vocab_size]."""
    return torch.bincount(torch.cat(token_streams(dataset)), minlength=vocab_size)


def entropy_nats(counts: torch.Tensor) -> float:
    """Entropy (nats) of the distribution given by ``counts``; exp of it is its perplexity."""
    p = counts[counts > 0].double() / counts.sum()
    return float(-(p * p.log()).sum())


def unigram_entropy(dataset, vocab_size: int) -> float:
    """NLL (nats/token) of predicting every token by its overall frequency, measured on ``dataset`` itself."""
    return entropy_nats(token_counts(dataset, vocab_size))


def bigram_entropy(dataset, vocab_size: int) -> float:
    """Conditional entropy H(token t+1 | token t) in nats, from the dataset's own pair counts.

    A lower bound for any model that sees only the previous token, measured in-sample
    (so optimistic: the model is scored on the data it was counted on).
    """
    pairs = torch.cat([s[:-1] * vocab_size + s[1:] for s in token_streams(dataset) if len(s) > 1])
    joint = torch.bincount(pairs, minlength=vocab_size * vocab_size).reshape(vocab_size, vocab_size).double()
    previous = joint.sum(1, keepdim=True)
    p_next = joint / previous.clamp(min=1)
    mask = joint > 0
    return float(-(joint[mask] * p_next[mask].log()).sum() / joint.sum())


def token_summary(dataset, vocab_size: int) -> dict:
    """Counts and baselines in one dict, for a table."""
    counts = token_counts(dataset, vocab_size)
    unigram, bigram = entropy_nats(counts), bigram_entropy(dataset, vocab_size)
    return {
        "tokens": int(counts.sum()),
        "ids used": int((counts > 0).sum()),
        "vocab": vocab_size,
        "uniform NLL (log vocab)": math.log(vocab_size),
        "unigram NLL": unigram,
        "unigram PPL": math.exp(unigram),
        "bigram NLL": bigram,
        "bigram PPL": math.exp(bigram),
    }


# Student's t quantile t(0.975, df) for df = 1..10; beyond, the Cornish-Fisher series is within 1e-3.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)
_Z975 = 1.959964


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (two-sided 95%).

    >>> t_quantile_975(2), round(t_quantile_975(30), 3)
    (4.303, 2.042)
    """
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_interval(values: list[float]) -> dict:
    """Mean, sample standard deviation and the 95% t-interval's half-width of ``values``.

    With one value the spread is unknown: ``sd`` and ``half_width`` are ``None``.

    >>> summary = mean_interval([1.0, 2.0, 3.0])
    >>> summary["mean"], summary["sd"], round(summary["half_width"], 3)
    (2.0, 1.0, 2.484)
    """
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return {"mean": mean, "sd": None, "half_width": None, "n": n}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return {"mean": mean, "sd": sd, "half_width": t_quantile_975(n - 1) * sd / math.sqrt(n), "n": n}
