import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tone_and_noise

import wgpt_lite as wl


def test_public_constants():
    assert (wl.SAMPLE_RATE, wl.HOP, wl.N_MELS, wl.FRAME_RATE) == (24000, 320, 64, 75)


@pytest.mark.parametrize("samples", [320, 321, 24_000, 24_000 + 319, 50_001])
def test_log_mel_has_one_frame_per_whole_hop(samples):
    mel = wl.log_mel(torch.randn(samples))
    assert mel.shape == (samples // 320, 64)
    assert torch.isfinite(mel).all()


def test_log_mel_is_batched_and_matches_single_clips(signal):
    batch = torch.stack([signal, 0.5 * signal, torch.zeros_like(signal)])
    mel = wl.log_mel(batch)
    assert mel.shape == (3, signal.shape[0] // 320, 64)
    assert torch.allclose(mel[1], wl.log_mel(0.5 * signal), atol=1e-5)


def test_silence_sits_at_the_fixed_floor():
    mel = wl.log_mel(torch.zeros(3200))
    assert torch.allclose(mel, torch.full_like(mel, (np.log10(1e-8) + 4) / 4))


@pytest.mark.parametrize("t", [0, 1, 3, 10, 37, 74])
def test_mel_frame_t_never_sees_samples_from_t_plus_one_hops(signal, t):
    boundary = (t + 1) * 320
    perturbed = signal.clone()
    perturbed[boundary:] = 100.0 * torch.randn(signal.shape[0] - boundary)  # much louder future
    before, after = wl.log_mel(signal), wl.log_mel(perturbed)
    assert torch.equal(before[: t + 1], after[: t + 1])
    # ...while frame t+1, whose window ends later, does change: the test can fail.
    assert not torch.allclose(before[t + 1], after[t + 1])


@pytest.mark.parametrize("n_fft", [512, 2048])
def test_other_window_lengths_stay_causal(signal, n_fft):
    t = 30
    perturbed = signal.clone()
    perturbed[(t + 1) * 320 :] *= 100
    assert torch.equal(wl.log_mel(signal, n_fft=n_fft)[: t + 1], wl.log_mel(perturbed, n_fft=n_fft)[: t + 1])


def test_frame_t_sees_the_last_sample_of_its_hop(signal):
    t = 5
    perturbed = signal.clone()
    perturbed[(t + 1) * 320 - 1] += 1.0
    assert not torch.allclose(wl.log_mel(signal)[t], wl.log_mel(perturbed)[t])
    assert torch.equal(wl.log_mel(signal)[:t], wl.log_mel(perturbed)[:t])


def test_prefix_of_a_clip_gives_the_prefix_of_its_mel(signal):
    # No per-clip statistic: the first second alone gives the same frames as within the clip.
    assert torch.equal(wl.log_mel(signal[:24_000]), wl.log_mel(signal)[:75])


def test_log_mel_on_cuda_matches_cpu(signal):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    assert torch.allclose(wl.log_mel(signal.cuda()).cpu(), wl.log_mel(signal), atol=1e-4)


@pytest.mark.parametrize("sr", [8_000, 16_000, 22_050, 44_100, 48_000])
def test_load_audio_resamples_to_24k(tmp_path, sr):
    seconds = 1.5
    path = tmp_path / f"clip_{sr}.wav"
    sf.write(path, tone_and_noise(seconds, sr).numpy(), sr)
    wav = wl.load_audio(path)
    assert wav.dtype == torch.float32 and wav.dim() == 1
    assert abs(wav.shape[0] - seconds * 24_000) <= 2


def test_load_audio_downmixes_stereo_and_keeps_odd_lengths(tmp_path):
    left, right = tone_and_noise(1.1, seed=1), tone_and_noise(1.1, seed=2)
    stereo = torch.stack([left, right], 1)[:24_001]
    path = tmp_path / "stereo.flac"
    sf.write(path, stereo.numpy(), 24_000, subtype="PCM_24")
    wav = wl.load_audio(path)
    assert wav.shape == (24_001,)
    assert torch.allclose(wav, stereo.mean(1), atol=1e-4)


def test_save_audio_round_trip(tmp_path, signal):
    wl.save_audio(tmp_path / "x.wav", signal)
    assert torch.allclose(wl.load_audio(tmp_path / "x.wav"), signal, atol=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]  # no temp file left behind


def _truncated_wav(path):
    sf.write(path, np.random.default_rng(0).normal(0, 0.1, 24_000), 24_000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _nan_wav(path):
    x = np.zeros(2400, np.float32)
    x[100] = np.nan
    sf.write(path, x, 24_000, subtype="FLOAT")


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is a transcript, not audio\n" * 20), "not a readable audio file"),
        (_truncated_wav, "truncated"),
        (_nan_wav, "NaN"),
        (lambda p: sf.write(p, np.zeros((0, 1)), 24_000), "no samples"),
        (lambda p: p.mkdir(), "a folder, not an audio file"),
    ],
    ids=["missing", "empty", "not-audio", "truncated", "non-finite", "zero-samples", "folder"],
)
def test_bad_audio_raises_one_error_type_naming_the_file(tmp_path, make, problem):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(wl.AudioError) as info:
        wl.load_audio(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_decode_audio_bytes_matches_load_audio(tmp_path, signal):
    path = tmp_path / "x.flac"
    sf.write(path, signal.numpy(), 16_000)
    from wgpt_lite.audio import decode_audio_bytes

    assert torch.equal(decode_audio_bytes(path.read_bytes(), "x.flac"), wl.load_audio(path))
    with pytest.raises(wl.AudioError, match="row 7"):
        decode_audio_bytes(b"not audio", "row 7")
