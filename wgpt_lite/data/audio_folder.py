"""A folder of your own audio, read: every audio file under it (recursively), at 24 kHz mono and the
corpora's peak level, with the files that cannot be used set aside with the reason.

Two users: ``experiment.own_audio.score_folder`` scores checkpoints on it (``read_folder``:
whole-frame clips, long files in pieces of at most ``MAX_CLIP_SECONDS``), and the folder
corpus builder (``data.builders.folder``) cuts it into a corpus to train on (``audio_files``,
``load_own_audio``, ``skip_reason``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from wgpt_lite.audio import HOP, SAMPLE_RATE, crop_to_frames, load_audio, normalise_peak
from wgpt_lite.data.corpora import SILENT_PEAK
from wgpt_lite.infra.errors import AudioError, DataError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")
MIN_FRAMES = 2  # one frame to read, one to predict
# Longer files are scored in equal pieces of at most this: EnCodec's memory grows with the clip
# (about 16 MiB per second on the CPU), and no corpus clip the models learnt from is longer.
MAX_CLIP_SECONDS = 30.0


def audio_files(folder: str | os.PathLike, option: str) -> list[Path]:
    """The audio files under ``folder`` (recursively, sorted); ``option`` names it in the one-line errors."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"{option} {folder}: no such folder; give the folder that holds your audio files")
    files = sorted(path for path in root.rglob("*") if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file())
    if not files:
        raise DataError(
            f"{option} {folder}: no audio file in it or its sub-folders (looked for {', '.join(AUDIO_SUFFIXES)})"
        )
    return files


def load_own_audio(path: Path) -> torch.Tensor:
    """A file of the user's at 24 kHz mono, scaled to the corpora's peak level; ``AudioError`` when it is
    unreadable or silent."""
    try:
        wav = load_audio(path)
    except OSError as err:  # unreadable (permissions, a broken link): skipped like a corrupt file
        raise AudioError(f"{path}: cannot be read ({err.strerror or err})") from err
    if float(wav.abs().max()) < SILENT_PEAK:
        raise AudioError(f"{path}: silent (peak below -60 dBFS)")
    return normalise_peak(wav)  # the level of every corpus clip: the log-mel depends on it


def skip_reason(err: AudioError, path: Path) -> str:
    """The error without the path it starts with: the skipped list names the file already."""
    return str(err).removeprefix(f"{path}: ")


def read_folder(folder: str | os.PathLike, option: str = "--audio") -> tuple[list[tuple[str, torch.Tensor]], list]:
    """``([(name, clip cropped to whole frames)], skipped)`` for the files under ``folder``.

    ``name`` is the file's path inside ``folder`` (with ``#2``, ``#3``... for the pieces of a
    file longer than ``MAX_CLIP_SECONDS``); ``skipped``: ``{"item", "reason"}`` for each file left out.
    """
    root = Path(folder).expanduser()
    clips, skipped = [], []
    for path in audio_files(root, option):
        name = str(path.relative_to(root))
        try:
            wav = load_own_audio(path)
        except AudioError as err:
            skipped.append({"item": name, "reason": skip_reason(err, path)})
            continue
        frames = wav.shape[-1] // HOP
        if frames < MIN_FRAMES:
            milliseconds = round(wav.shape[-1] / SAMPLE_RATE * 1000, 1)
            reason = f"{milliseconds:g} ms is shorter than {MIN_FRAMES} frames of {HOP} samples: nothing to predict"
            skipped.append({"item": name, "reason": reason})
            continue
        n_pieces = math.ceil(frames * HOP / SAMPLE_RATE / MAX_CLIP_SECONDS)
        pieces = torch.tensor_split(crop_to_frames(wav).reshape(frames, HOP), n_pieces)  # split between frames
        clips += [(name if len(pieces) == 1 else f"{name}#{i + 1}", p.reshape(-1)) for i, p in enumerate(pieces)]
    if not clips:
        raise DataError(
            f"{option} {folder}: none of its {len(skipped)} audio files is usable "
            f"(e.g. {skipped[0]['item']}: {skipped[0]['reason']}); give it readable recordings that are not silent"
        )
    return clips, skipped
