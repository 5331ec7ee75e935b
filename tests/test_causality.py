import pytest
import torch
from conftest import tone_and_noise

import wgpt_lite as wl
from wgpt_lite.batches import MEL_LAG, control_mel, lag_mel
from wgpt_lite.experiment.causality import (
    future_leak,
    mel_influence,
    model_future_leak,
    perturb_future,
    whisper_clamped_log_mel,
)


def test_perturb_future_changes_exactly_the_future():
    wav = tone_and_noise(1.0)
    out = perturb_future(wav, t=9)
    assert torch.equal(out[:3200], wav[:3200]) and (out[3200:] != wav[3200:]).all()


@pytest.mark.parametrize("t", [0, 5, 50])
def test_the_kits_log_mel_does_not_leak_but_whispers_clamp_does(t):
    wav = tone_and_noise(1.0) * torch.linspace(0.05, 1.0, 24_000)  # quiet start, as in speech
    ours = future_leak(wl.log_mel, wav, t)
    assert ours["past_change"] == 0.0 and ours["next_change"] > 0
    assert future_leak(whisper_clamped_log_mel, wav, t)["past_change"] > 0.1


@pytest.mark.parametrize("name", ["gpt-s", "hybrid"])
def test_model_logits_up_to_t_ignore_the_future_end_to_end(name):
    torch.manual_seed(0)
    wav = tone_and_noise(1.0, seed=1)
    tokenizer = wl.MelVQTokenizer(k=16).fit([wl.log_mel(tone_and_noise(2.0, seed=2))], seed=0)
    model = wl.build_model(name, "smoke", vocab_size=16).eval()
    for t in (0, 20, 40):
        leak = model_future_leak(model, wav, tokenizer, t)
        assert leak["past_change"] == 0.0, leak
        assert leak["next_change"] > 0.0, leak


def test_mel_influence_is_lower_triangular_for_the_hybrid():
    torch.manual_seed(0)
    model = wl.build_model("hybrid", "smoke", vocab_size=16).eval()
    ids, mel = torch.randint(0, 16, (12,)), torch.randn(12, 64)
    influence = mel_influence(model, ids, mel)
    assert influence.shape == (12, 12)
    assert torch.equal(influence.triu(1), torch.zeros(12, 12))
    assert (influence.diagonal() > 0).all()


def test_the_lagged_mel_shows_position_t_nothing_of_token_t_plus_1s_window():
    """A melvq token t+1 is made from mel frame t+1's window, samples (t+2)·HOP − N_FFT .. (t+2)·HOP. Fed the
    "lagged" mel, the hybrid's logits up to position t ignore every sample from that window's start on (the
    tokens, the history GPT-S sees too, held fixed); one frame less of lag would let position t see some."""
    torch.manual_seed(0)
    wav = tone_and_noise(1.0, seed=1)
    model = wl.build_model("hybrid", "smoke", vocab_size=16).eval()
    context = model.config.context
    ids = torch.randint(0, 16, (1, context))

    def logits_with(lagging):
        def logits(audio):
            with torch.no_grad():
                return model(ids, mel=lagging(wl.log_mel(audio)[None, :context]))[0][0]

        return logits

    for t in (0, 2, 5, 40):
        window_start = max(0, (t + 2) * wl.HOP - wl.N_FFT)  # token t+1's first sample
        lagged = future_leak(logits_with(lambda mel: control_mel(mel, "lagged")), wav, t, start=window_start)
        assert lagged["past_change"] == 0.0, lagged
        if t >= MEL_LAG - 1:  # before that, one frame less of lag still feeds position t zeros
            shorter = future_leak(logits_with(lambda mel: lag_mel(mel, MEL_LAG - 1)), wav, t, start=window_start)
            assert shorter["past_change"] > 0.0, shorter
    assert MEL_LAG == 3
