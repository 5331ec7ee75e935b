"""Quality proxies for token sequences: NLL under a model, entropy, repetition."""

import math

import pytest
import torch

import wgpt_lite as wl
from wgpt_lite.experiment.generation_quality import continuation_nll, quality_proxies, repetition_rate, token_entropy

VOCAB = 32


@pytest.fixture
def ids():
    return torch.randint(0, VOCAB, (3, 40), generator=torch.Generator().manual_seed(0))


def model_loss(model, ids, mel=None):
    model.eval()
    with torch.no_grad():
        _, loss = model(ids[:, :-1], mel=mel[:, :-1] if mel is not None else None, targets=ids[:, 1:])
    return float(loss)


def test_token_entropy_known_answers():
    assert token_entropy(torch.tensor([7, 7, 7, 7])) == 0.0
    assert token_entropy(torch.tensor([0, 1, 0, 1])) == pytest.approx(math.log(2))
    assert token_entropy(torch.tensor([[0, 1], [2, 3]])) == pytest.approx(math.log(4))
    # p = (1/2, 1/4, 1/4): H = 1.5 bits
    assert token_entropy([5, 5, 6, 9]) == pytest.approx(1.5 * math.log(2))
    assert token_entropy(torch.tensor([], dtype=torch.long)) == 0.0


def test_repetition_rate_known_answers():
    assert repetition_rate(torch.tensor([4, 4, 4, 4])) == 1.0
    assert repetition_rate(torch.tensor([1, 2, 3, 4])) == 0.0
    assert repetition_rate(torch.tensor([1, 1, 2, 2, 3])) == pytest.approx(2 / 4)
    # per row: a repeat never spans two sequences
    assert repetition_rate(torch.tensor([[1, 2], [2, 2]])) == pytest.approx(1 / 2)
    assert repetition_rate([9]) == 0.0


def test_nll_equals_the_gpt_loss(ids):
    torch.manual_seed(0)
    model = wl.build_model("gpt-s", "smoke", vocab_size=VOCAB)
    model.train()
    nll = continuation_nll(model, ids)
    assert model.training  # the mode is given back
    assert nll == pytest.approx(model_loss(model, ids), abs=1e-6)
    assert nll == pytest.approx(math.log(VOCAB), abs=0.5)  # untrained: about uniform
    assert continuation_nll(model, ids[0]) == pytest.approx(model_loss(model, ids[:1]), abs=1e-6)


def test_nll_equals_the_hybrid_loss_with_mel(ids):
    torch.manual_seed(0)
    model = wl.build_model("hybrid", "smoke", vocab_size=VOCAB)
    mel = torch.randn(*ids.shape, wl.N_MELS, generator=torch.Generator().manual_seed(1))
    nll = continuation_nll(model, ids, mel=mel)
    assert nll == pytest.approx(model_loss(model, ids, mel), abs=1e-6)
    assert nll != pytest.approx(continuation_nll(model, ids, mel=mel + 1.0), abs=1e-6)  # the mel is used


def test_nll_crops_long_sequences_to_the_context_from_the_end():
    torch.manual_seed(0)
    model = wl.build_model("hybrid", "smoke", vocab_size=VOCAB)
    context = model.config.context
    ids = torch.randint(0, VOCAB, (2, context + 30), generator=torch.Generator().manual_seed(2))
    mel = torch.randn(*ids.shape, wl.N_MELS, generator=torch.Generator().manual_seed(3))
    tail = slice(-(context + 1), None)
    expected = model_loss(model, ids[:, tail], mel[:, tail])
    assert continuation_nll(model, ids, mel=mel) == pytest.approx(expected, abs=1e-6)


def test_nll_needs_two_tokens():
    model = wl.build_model("gpt-s", "smoke", vocab_size=VOCAB)
    with pytest.raises(ValueError, match="2 tokens"):
        continuation_nll(model, torch.zeros(1, 1, dtype=torch.long))


def test_nll_after_a_prompt_scores_the_continuation_only(ids):
    torch.manual_seed(0)
    model = wl.build_model("gpt-s", "smoke", vocab_size=VOCAB).eval()
    prompt = 25
    with torch.no_grad():
        logits, _ = model(ids[:, :-1])
    per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")  # [B, T-1]
    expected = float(per_token[:, prompt - 1 :].mean())  # targets at positions prompt..T-1
    assert continuation_nll(model, ids, prompt=prompt) == pytest.approx(expected, abs=1e-6)
    assert continuation_nll(model, ids, prompt=1) == pytest.approx(model_loss(model, ids), abs=1e-6)
    with pytest.raises(ValueError, match="nothing to score"):
        continuation_nll(model, ids, prompt=ids.shape[1])


def test_nll_after_a_prompt_with_cropping():
    torch.manual_seed(0)
    model = wl.build_model("gpt-s", "smoke", vocab_size=VOCAB).eval()
    context = model.config.context
    ids = torch.randint(0, VOCAB, (2, context + 30), generator=torch.Generator().manual_seed(4))
    window = ids[:, 29:]  # the last context + 1 tokens
    with torch.no_grad():
        logits, _ = model(window[:, :-1])
    per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), window[:, 1:], reduction="none")
    prompt = 29 + 10  # in the window: targets from its position 10 on
    assert continuation_nll(model, ids, prompt=prompt) == pytest.approx(float(per_token[:, 9:].mean()), abs=1e-6)
    assert continuation_nll(model, ids, prompt=5) == pytest.approx(float(per_token.mean()), abs=1e-6)


def test_quality_proxies_generated_beside_real(ids):
    torch.manual_seed(0)
    model = wl.build_model("gpt-s", "smoke", vocab_size=VOCAB)
    prompt = 20
    stuck = ids.clone()
    stuck[:, prompt:] = 7
    real, generated = quality_proxies(model, ids, prompt=prompt), quality_proxies(model, stuck, prompt=prompt)
    assert sorted(real) == ["entropy", "nll", "repetition"]
    assert real["nll"] == pytest.approx(continuation_nll(model, ids, prompt=prompt))
    assert real["entropy"] == pytest.approx(token_entropy(ids[:, prompt:]))
    assert (generated["entropy"], generated["repetition"]) == (0.0, 1.0)
    assert real["repetition"] < 0.2 and real["entropy"] > 2.5
