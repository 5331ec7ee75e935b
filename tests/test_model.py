"""The three models: sizes, shapes, causality end to end, and that the hybrid uses the mel."""

import math

import pytest
import torch

import wgpt_lite as wl
from wgpt_lite.infra.errors import ModelError
from wgpt_lite.presets import MODELS, PAPER_PARAMS, PRESETS


@pytest.mark.parametrize("name", MODELS)
def test_paper_presets_match_the_papers_parameter_counts(name):
    params = wl.build_model(name, "paper").num_params()
    assert abs(params / PAPER_PARAMS[name] - 1) <= 0.05, f"{name}: {params:,} vs {PAPER_PARAMS[name]:,.0f}"


@pytest.mark.parametrize("preset", ["paper", "mini"])
def test_presets_keep_the_papers_ratios(preset):
    params = {name: wl.build_model(name, preset).num_params() for name in MODELS}
    assert 9 <= params["gpt-l"] / params["gpt-s"] <= 12
    assert 1.03 <= params["hybrid"] / params["gpt-s"] <= 1.10


@pytest.mark.parametrize("name", MODELS)
def test_forward_shapes_and_loss(name):
    torch.manual_seed(0)
    model = wl.build_model(name, "smoke", vocab_size=50)
    ids, mel = torch.randint(0, 50, (2, 11)), torch.randn(2, 11, wl.N_MELS)
    logits, loss = model(ids[:, :-1], mel=mel[:, :-1])
    assert logits.shape == (2, 10, 50) and loss is None
    _, loss = model(ids[:, :-1], mel=mel[:, :-1], targets=ids[:, 1:])
    assert abs(loss.item() - math.log(50)) < 0.5  # an untrained model is close to uniform


def causal_tokens(mel: torch.Tensor) -> torch.Tensor:
    """A stand-in for a causal tokenizer: token t is the loudest mel bin of frame t."""
    return mel.argmax(dim=-1)


@pytest.mark.parametrize("name", ["gpt-s", "hybrid"])
def test_logits_up_to_t_ignore_audio_after_frame_t(name):
    torch.manual_seed(0)
    frames, t = 40, 17
    wav = torch.randn(frames * wl.HOP) * 0.1
    later = wav.clone()
    later[(t + 1) * wl.HOP :] = torch.randn(later.shape[0] - (t + 1) * wl.HOP)  # perturb from sample (t+1)*320 on
    model = wl.build_model(name, "smoke", vocab_size=wl.N_MELS).eval()

    def logits_of(audio):
        mel = wl.log_mel(audio)
        logits, _ = model(causal_tokens(mel)[None], mel=mel[None])
        return logits[0]

    before, after = logits_of(wav), logits_of(later)
    torch.testing.assert_close(before[: t + 1], after[: t + 1], rtol=0, atol=1e-6)
    assert not torch.allclose(before[t + 1 :], after[t + 1 :])  # the perturbation did reach later positions


def train_briefly(model, batches, steps=300):
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        ids, mel = batches()
        _, loss = model(ids[:, :-1], mel=mel[:, :-1], targets=ids[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def test_hybrid_learns_what_only_the_mel_tells():
    """Mel frame t is a noisy code of token t+1; the tokens themselves are random.

    GPT cannot beat log(16) = 2.77 nats; the hybrid reads the answer from the mel.
    """
    vocab, frames = 16, 24
    generator = torch.Generator().manual_seed(0)
    codes = torch.randn(vocab, wl.N_MELS, generator=generator)

    def batches():
        ids = torch.randint(0, vocab, (32, frames + 1), generator=generator)
        mel = torch.zeros(32, frames + 1, wl.N_MELS)
        mel[:, :-1] = codes[ids[:, 1:]] + 0.3 * torch.randn(32, frames, wl.N_MELS, generator=generator)
        return ids, mel

    losses = {}
    for name in ("gpt-s", "hybrid"):
        torch.manual_seed(0)
        losses[name] = train_briefly(wl.build_model(name, "smoke", vocab_size=vocab, context=frames), batches)
    assert losses["gpt-s"] > 2.6, losses
    assert losses["hybrid"] < 0.5, losses


def test_gpt_ignores_mel_and_hybrid_requires_it():
    ids = torch.randint(0, 1024, (1, 8))
    gpt, hybrid = wl.build_model("gpt-s", "smoke"), wl.build_model("hybrid", "smoke")
    torch.testing.assert_close(gpt(ids)[0], gpt(ids, mel=torch.randn(1, 8, wl.N_MELS))[0])
    with pytest.raises(ModelError, match="mel frames aligned"):
        hybrid(ids)
    with pytest.raises(ModelError, match="mel frames aligned"):
        hybrid(ids, mel=torch.randn(1, 7, wl.N_MELS))


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ModelError, match="gpt-s, gpt-l, hybrid"):
        wl.build_model("gpt-xl", "paper")
    with pytest.raises(ModelError, match=", ".join(PRESETS)):
        wl.build_model("gpt-s", "huge")
    with pytest.raises(ModelError, match="fields are"):
        wl.build_model("gpt-s", "smoke", width=3)


def test_input_longer_than_the_context_is_refused():
    model = wl.build_model("gpt-s", "smoke")
    with pytest.raises(ModelError, match="context of 64"):
        model(torch.zeros(1, 65, dtype=torch.long))
