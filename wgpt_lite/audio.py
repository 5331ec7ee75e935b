"""Audio in, causal log-mel out.

Every model in the kit sees audio at 24 kHz, cut into 320-sample hops (75 frames a
second), the frame grid of EnCodec's 24 kHz model. Mel frame ``t`` is a Hann
window of ``N_FFT`` samples that *ends* at sample ``(t + 1) * HOP``: like token
``t`` of EnCodec's causal encoder, it sees no sample from ``(t + 1) * HOP`` on.
It does not see the same past: the window reaches ``N_FFT`` samples back (zeros
before the clip, so frames 0-2 hold zero padding), while EnCodec's encoder reaches
further back. That is why there is no centring (which would look half a window
ahead) and no per-clip normalisation (Whisper's ``max - 8`` clamp would tell frame
``t`` how loud the rest of the clip is).
"""

from __future__ import annotations

import io
import os
from functools import cache

import numpy as np
import soundfile as sf
import soxr
import torch
import torch.nn.functional as F

from wgpt_lite.infra.atomic import atomic_path
from wgpt_lite.infra.errors import AudioError

SAMPLE_RATE = 24_000
HOP = 320  # samples per frame: 24000 / 320 = 75 frames a second, as EnCodec 24 kHz
FRAME_RATE = SAMPLE_RATE // HOP
N_FFT = 1024  # 42.7 ms window, ending at the frame's last sample
N_MELS = 64
F_MAX = SAMPLE_RATE / 2
LOG_FLOOR = 1e-8  # fixed floor, never derived from the clip
PEAK_LEVEL = 0.89  # every corpus clip is scaled to this peak (-1 dBFS), so voices and pianos sit at one level


def load_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE) -> torch.Tensor:
    """Read an audio file as a mono float32 tensor [samples] at ``sr`` Hz.

    Channels are averaged; other sample rates are resampled with soxr. Raises
    ``AudioError`` for a missing, empty, truncated, non-audio or non-finite file, or a folder.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioError(f"{path}: no such file; check the path")
    if os.path.isdir(path):
        raise AudioError(f"{path}: a folder, not an audio file; give one file in it")
    if os.path.getsize(path) == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes); re-export or re-download it")
    _check_wav_not_truncated(path)
    return _decode(path, path, sr)


def decode_audio_bytes(data: bytes, name: str = "<bytes>", sr: int = SAMPLE_RATE) -> torch.Tensor:
    """``load_audio`` for encoded bytes in memory, e.g. a ``datasets`` audio column.

    (``datasets``' own decoding needs torchcodec, which the kit does not use.)
    """
    if not data:
        raise AudioError(f"{name}: the audio bytes are empty")
    return _decode(io.BytesIO(data), name, sr)


def _check_wav_not_truncated(path: str) -> None:
    """libsndfile reads a cut-off WAV without complaint; compare its header with its size."""
    with open(path, "rb") as f:
        header = f.read(12)
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return  # not WAV: other formats fail (or come back empty) inside soundfile
        file_size = os.path.getsize(path)
        while chunk := f.read(8):
            if len(chunk) < 8:
                break
            chunk_id, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if chunk_id == b"data":
                available = file_size - f.tell()
                if 0 < size < 0xFFFFFFFF and size > available:  # 0 / 0xFFFFFFFF: streamed, size unknown
                    raise AudioError(
                        f"{path}: truncated WAV: the header promises {size} bytes of samples but only "
                        f"{available} are there; the copy or download was cut off, fetch it again"
                    )
                return
            f.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to even sizes


def _decode(source, name: str, sr: int) -> torch.Tensor:
    try:
        data, file_sr = sf.read(source, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises LibsndfileError, RuntimeError or TypeError
        raise AudioError(f"{name}: not a readable audio file ({err}); convert it to WAV or FLAC") from err
    if data.shape[0] == 0:
        raise AudioError(f"{name}: the file holds no samples; re-export it")
    if not np.isfinite(data).all():
        raise AudioError(f"{name}: the file holds NaN or infinite samples; re-export it as PCM or clean float audio")
    wav = data.mean(axis=1)
    if file_sr != sr:
        wav = soxr.resample(wav, file_sr, sr, quality="HQ").astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(wav))


def normalise_peak(wav: torch.Tensor, peak: float = PEAK_LEVEL) -> torch.Tensor:
    """A clip scaled so that its loudest sample is ``peak``: the level of every corpus clip.

    The log-mel depends on level, so audio scored or trained on is brought to the corpora's
    level first. It is a property of the clip as stored, computed before any feature, not an
    input statistic a model position could use to look ahead: tokens and mel are both made
    from the scaled clip.

    >>> normalise_peak(torch.tensor([0.1, -0.2])).abs().max().item() == torch.tensor(PEAK_LEVEL).item()
    True
    """
    return wav * (peak / float(wav.abs().max().clamp(min=1e-9)))


def save_audio(path: str | os.PathLike, wav: torch.Tensor, sr: int = SAMPLE_RATE) -> None:
    """Write a mono float tensor as 16-bit PCM WAV, atomically."""
    with atomic_path(path) as tmp:
        sf.write(tmp, wav.detach().cpu().float().clamp(-1, 1).numpy(), sr, subtype="PCM_16", format="WAV")


def mel_settings() -> dict:
    """Everything in the front end that changes a mel frame: part of every cache key.

    Read at call time, so a changed constant is a new key, never a stale cache hit.
    """
    return {
        "sample_rate": SAMPLE_RATE,
        "hop": HOP,
        "n_fft": N_FFT,
        "n_mels": N_MELS,
        "f_max": F_MAX,
        "log_floor": LOG_FLOOR,
    }


def crop_to_frames(wav: torch.Tensor) -> torch.Tensor:
    """Drop the trailing samples that do not fill a whole 320-sample frame."""
    return wav[..., : wav.shape[-1] // HOP * HOP]


@cache
def mel_filters(device: str = "cpu", n_mels: int = N_MELS, n_fft: int = N_FFT) -> torch.Tensor:
    """Triangular mel filterbank [n_mels, n_fft // 2 + 1], 0 Hz to F_MAX.

    The HTK mel scale, ``2595 * log10(1 + f / 700)``; each filter is scaled to equal area
    (what librosa calls ``norm="slaney"``), so wide high bands are not louder.
    """

    def hz_to_mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def mel_to_hz(mel):
        return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, n_fft // 2 + 1)
    mel_points = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(F_MAX), n_mels + 2))
    lower, center, upper = mel_points[:-2, None], mel_points[1:-1, None], mel_points[2:, None]
    rising = (fft_freqs[None, :] - lower) / (center - lower)
    falling = (upper - fft_freqs[None, :]) / (upper - center)
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= 2.0 / (upper - lower)  # equal area per band
    return torch.from_numpy(filters.astype(np.float32)).to(device)


def power_spectrogram(wav: torch.Tensor, n_fft: int = N_FFT) -> torch.Tensor:
    """Causal power spectrum: [..., samples] -> [..., n_fft // 2 + 1, samples // HOP].

    Column ``t`` is the Hann-windowed FFT of samples ``(t + 1) * HOP - n_fft ..
    (t + 1) * HOP`` (zeros before the start), so it never depends on a later sample.
    """
    if n_fft < HOP:
        raise ValueError(f"n_fft={n_fft} is shorter than a hop ({HOP}): frames would skip samples")
    if not torch.is_tensor(wav):
        wav = torch.as_tensor(np.asarray(wav), dtype=torch.float32)
    wav = crop_to_frames(wav.float())
    n_frames = wav.shape[-1] // HOP
    batch_shape = wav.shape[:-1]
    if n_frames == 0:
        return wav.new_zeros(*batch_shape, n_fft // 2 + 1, 0)
    flat = wav.reshape(-1, wav.shape[-1])
    # Left-pad so that the first window ends at sample HOP; torch.stft with
    # center=False then starts window t at t * HOP - (n_fft - HOP) in the original clip.
    padded = F.pad(flat, (n_fft - HOP, 0))
    window = torch.hann_window(n_fft, device=wav.device)
    stft = torch.stft(padded, n_fft, HOP, window=window, center=False, return_complex=True)
    power = stft[..., :n_frames].abs() ** 2  # [batch, freq, frames]
    return power.reshape(*batch_shape, *power.shape[-2:])


def log_scale(mel_power: torch.Tensor) -> torch.Tensor:
    """log10 with a fixed floor, then Whisper's (x + 4) / 4, without its per-clip clamp."""
    return (torch.clamp(mel_power, min=LOG_FLOOR).log10() + 4.0) / 4.0


def log_mel(wav: torch.Tensor, n_mels: int = N_MELS, n_fft: int = N_FFT) -> torch.Tensor:
    """Causal log-mel spectrogram: [..., samples] -> [..., samples // HOP, n_mels].

    Frame ``t`` sees samples ``(t + 1) * HOP - n_fft .. (t + 1) * HOP`` only. ``n_fft``
    other than 1024 is for exploring the time/frequency trade-off; the models use 1024.
    """
    power = power_spectrogram(wav, n_fft)  # [..., freq, frames]
    mel_power = mel_filters(str(power.device), n_mels, n_fft) @ power  # [..., n_mels, frames]
    return log_scale(mel_power).transpose(-1, -2)  # [..., frames, n_mels]
