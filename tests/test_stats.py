import math

import pytest

from wgpt_lite.experiment.stats import bigram_entropy, token_counts, token_summary, unigram_entropy


def dataset(*streams):
    return {"tokens": [list(s) for s in streams]}  # the column the stats read, as datasets returns it


def test_alternating_tokens_are_perfectly_predictable_from_the_previous_one():
    data = dataset([0, 1] * 50, [1, 0] * 20)
    assert unigram_entropy(data, 4) == pytest.approx(math.log(2))
    assert bigram_entropy(data, 4) == pytest.approx(0.0)
    assert token_counts(data, 4).tolist() == [70, 70, 0, 0]


def test_summary_of_a_uniform_stream():
    summary = token_summary(dataset(list(range(8)) * 10), 8)
    assert summary["unigram PPL"] == pytest.approx(8.0)
    assert summary["ids used"] == 8 and summary["tokens"] == 80
    assert summary["bigram NLL"] == pytest.approx(0.0)  # each id is always followed by the next one
