"""mel_to_audio: a rough but faithful rendering of a causal log-mel, and tokens_to_audio."""

import pytest
import torch
from conftest import tone_and_noise

import wgpt_lite as wl
from wgpt_lite.display.inversion import mel_to_audio, mel_to_linear, tokens_to_audio
from wgpt_lite.infra.errors import AudioError
from wgpt_lite.tokenizers import EncodecTokenizer, MelVQTokenizer

# Mean absolute log-mel error, measured on 6 s of the first sample-speech clip: 0.016 after
# 32 iterations (0.0159-0.0162 over seeds 0-2), 0.041 after 1, 0.107 with the random phase
# alone; about 0.2 s for 32 iterations on one CPU core. The limit, 0.025 (1 dB), leaves
# room for other CPUs' FFTs and torch versions, and stays far below a single iteration.
ROUND_TRIP_LIMIT = 0.025


@pytest.fixture(scope="module")
def speech():
    row = wl.read_manifest("sample-speech", "train")[0]
    return wl.load_clip("sample-speech", row)[: 6 * wl.SAMPLE_RATE]


@pytest.fixture(scope="module")
def speech_mel(speech):
    return wl.log_mel(speech)


def round_trip_error(mel, **kwargs):
    return float((wl.log_mel(mel_to_audio(mel, **kwargs)) - mel).abs().mean())


def test_output_has_one_hop_per_frame_and_is_finite_and_bounded(speech, speech_mel):
    out = mel_to_audio(speech_mel)
    assert out.shape == (speech_mel.shape[0] * wl.HOP,)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert out.abs().max() <= 1.0
    rms_in, rms_out = speech.pow(2).mean().sqrt(), out.pow(2).mean().sqrt()
    assert 0.5 < rms_out / rms_in < 2.0  # the level survives: no normalisation on the way


def test_same_seed_same_samples_other_seed_other_samples(speech_mel):
    mel = speech_mel[:150]
    assert torch.equal(mel_to_audio(mel, iterations=4, seed=0), mel_to_audio(mel, iterations=4, seed=0))
    assert not torch.equal(mel_to_audio(mel, iterations=4, seed=0), mel_to_audio(mel, iterations=4, seed=1))


def test_seeding_leaves_the_global_rng_alone(speech_mel):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    mel_to_audio(speech_mel[:20], iterations=2)
    assert torch.equal(torch.rand(3), expected)


def test_round_trip_error_is_small_and_griffin_lim_helps(speech_mel):
    error = round_trip_error(speech_mel)
    assert error < ROUND_TRIP_LIMIT
    assert error < round_trip_error(speech_mel, iterations=1) < round_trip_error(speech_mel, iterations=0)


def test_no_click_at_the_end():
    # The clip's last samples sit at the thin tail of their only causal window; unconstrained,
    # Griffin-Lim blew them up to full scale (a click at the end of every rendering).
    wav = tone_and_noise(1.0)
    out = mel_to_audio(wl.log_mel(wav))
    assert out.abs().max() < 1.5 * wav.abs().max()
    assert out[-wl.HOP :].abs().max() < 1.5 * wav[-wl.HOP :].abs().max()


def test_pure_tone_comes_back_at_its_pitch():
    wav = 0.3 * torch.sin(2 * torch.pi * 440 * torch.arange(wl.SAMPLE_RATE) / wl.SAMPLE_RATE)
    mel = wl.log_mel(wav)
    out = mel_to_audio(mel)
    assert round_trip_error(mel) < 0.05
    spectrum = torch.fft.rfft(out[wl.N_FFT :]).abs()  # after the first window, at 1 Hz a bin
    peak_hz = spectrum.argmax().item() * wl.SAMPLE_RATE / out[wl.N_FFT :].shape[0]
    assert abs(peak_hz - 440) < 10


def test_pseudo_inverse_is_nonnegative_and_fits_the_mel_bands(speech_mel):
    magnitude = mel_to_linear(speech_mel)
    assert magnitude.shape == (wl.N_FFT // 2 + 1, speech_mel.shape[0])
    assert (magnitude >= 0).all()
    refitted = wl.audio.log_scale(wl.mel_filters() @ magnitude**2).T
    assert (refitted - speech_mel).abs().mean() < 0.01


def test_silence_in_silence_out():
    silence = wl.log_mel(torch.zeros(wl.SAMPLE_RATE))
    assert mel_to_audio(silence).abs().max() < 1e-4
    quiet_then_loud = torch.cat([torch.zeros(wl.SAMPLE_RATE), tone_and_noise(1.0)])
    out = mel_to_audio(wl.log_mel(quiet_then_loud))
    assert out[: wl.SAMPLE_RATE // 2].abs().max() < 1e-3  # the silent half second stays silent
    assert out[wl.SAMPLE_RATE :].abs().max() > 0.1


def test_batches_and_empty_input():
    mel = wl.log_mel(torch.stack([tone_and_noise(0.5, seed=1), tone_and_noise(0.5, seed=2)]))
    out = mel_to_audio(mel, iterations=2)
    assert out.shape == (2, mel.shape[1] * wl.HOP)
    assert mel_to_audio(torch.zeros(0, wl.N_MELS)).shape == (0,)


def test_bad_input_is_refused():
    with pytest.raises(AudioError, match="64"):
        mel_to_audio(torch.zeros(10, 80))
    with pytest.raises(AudioError, match="NaN"):
        mel_to_audio(torch.full((10, wl.N_MELS), float("nan")))


def test_tokens_to_audio_renders_melvq_centroids(speech, speech_mel):
    tok = MelVQTokenizer(k=16).fit([speech_mel])
    ids = tok.encode(speech)
    out = tokens_to_audio(ids, tok, iterations=8)
    assert torch.equal(out, mel_to_audio(tok.decode(ids), iterations=8))
    assert out.shape == (ids.shape[0] * wl.HOP,)
    assert torch.isfinite(out).all()


def test_tokens_to_audio_decodes_encodec_itself():
    wav = tone_and_noise(1.0, seed=3)
    tok = EncodecTokenizer.untrained(wav, seed=0)
    ids = tok.encode(wav)
    out = tokens_to_audio(ids, tok)
    assert torch.equal(out, tok.decode(ids))
    assert out.shape == (ids.shape[0] * wl.HOP,)


def test_tokens_to_audio_refuses_an_unknown_tokenizer():
    class Odd:
        decodes_to = "midi"

    with pytest.raises(AudioError, match="midi"):
        tokens_to_audio(torch.zeros(3, dtype=torch.long), Odd())
