"""Your own audio: how well do trained checkpoints predict the tokens of a folder of your recordings?

``score_folder(checkpoints, folder)`` reads every audio file under ``folder`` (searched
recursively; whatever ``load_audio`` reads: WAV, FLAC, OGG, and MP3 where libsndfile
can), tokenizes it with each checkpoint's own tokenizer (EnCodec, or the melvq codebook
fitted on the checkpoint's corpus) and scores the checkpoint on every token: NLL in
nats/token, PPL and top-1 accuracy, as ``wgpt_lite.train.evaluate`` computes them for a
corpus split. A clip is cut into consecutive windows of ``context + 1`` frames that share
one frame at each seam (a window's last frame is the next one's first, read but not
predicted again), so every token after a clip's first is predicted exactly once; the
last, shorter window and a clip shorter than the context are scored as they are. Files
that cannot be read, are silent or hold fewer than two frames are skipped and listed with
the reason. From the command line::

    python -m wgpt_lite evaluate --audio ~/recordings results/mini-melvq/mini-speech/*/checkpoint.pt

A folder of your audio can also become a corpus to train on: ``build_folder_corpus``
(``python -m wgpt_lite data build folder --source DIR --name NAME``).

    >>> clip_windows(n_frames=70, context=32)   # frames [start, stop) of each window
    [(0, 33), (32, 65), (64, 70)]
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from wgpt_lite.audio import HOP, SAMPLE_RATE, crop_to_frames, load_audio, normalise_peak
from wgpt_lite.batches import clip_windows
from wgpt_lite.data.corpora import SILENT_PEAK
from wgpt_lite.data.feature_cache import clip_features, settings_key
from wgpt_lite.infra.device import pick_device, pick_precision
from wgpt_lite.infra.errors import AudioError, DataError
from wgpt_lite.runs.checkpoint import load_with_tokenizer
from wgpt_lite.train import TrainConfig, evaluate

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


def score_folder(
    checkpoints: list[str | os.PathLike] | str | os.PathLike,
    folder: str | os.PathLike,
    device: str | None = None,
    progress: bool = True,
) -> dict:
    """Score each checkpoint (one path, or a list) on every token of the audio under ``folder``.

    Returns ``{"folder", "rows", "skipped"}``: a row per checkpoint (its run, ``nll``, ``ppl``,
    ``acc``, ``params``, ``tokens``, ``windows``, ``clips``, ``context``, ``checkpoint``; ``split``
    names the folder, so ``reproduce.scores_line`` prints it), and the files left out with their reasons.
    A checkpoint whose tokenizer cannot be rebuilt (EnCodec weights missing, a melvq
    codebook refitted since) is refused in one line before any scoring.
    """
    from tqdm.auto import tqdm  # lazy: tqdm.auto loads IPython when it is installed

    if isinstance(checkpoints, (str, os.PathLike)):
        checkpoints = [checkpoints]
    clips, skipped = read_folder(folder)
    device = pick_device(device)
    loaded = [_load(path) for path in checkpoints]  # every refusal comes before the long work
    tokenized = {}  # tokenizer identity -> the clips' tokens and mel: the models of one corpus share them
    rows = []
    for path, checkpoint, tok, model in loaded:
        key = settings_key(**tok.settings())
        if key not in tokenized:
            tokenized[key] = [
                _features(wav, tok)
                for _, wav in tqdm(clips, desc=f"{tok.name} tokens", unit="clip", disable=not progress)
            ]
        config = TrainConfig(**checkpoint["train_config"])
        scores, windows = _score(model.to(device), tokenized[key], config, device)
        rows.append(
            {
                **checkpoint["run"],
                "seed": checkpoint["train_config"].get("seed", 0),
                **scores,
                "params": model.num_params(),
                "split": f"your audio in {folder}",
                "clips": len(clips),
                "windows": windows,
                "context": config.context,
                "checkpoint": str(path),
            }
        )
    return {"folder": str(folder), "rows": rows, "skipped": skipped}


def _load(path: str | os.PathLike):
    """(path, checkpoint, its tokenizer, its model): refused in one line where the tokens would not be its own."""
    return path, *load_with_tokenizer(path)


def _features(wav: torch.Tensor, tok) -> tuple[torch.Tensor, torch.Tensor]:
    tokens, mel = clip_features(wav, tok)
    return tokens.cpu().long(), mel.cpu().half().float()  # mel rounded as the feature cache stores it for training


def _score(model, clips: list[tuple[torch.Tensor, torch.Tensor]], config: TrainConfig, device) -> tuple[dict, int]:
    """NLL, PPL, accuracy and token count over the windows of ``clips``; windows of one length go in one batch."""
    by_length: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    for tokens, mel in clips:
        for start, stop in clip_windows(tokens.shape[0], config.context):
            by_length.setdefault(stop - start, []).append((tokens[start:stop], mel[start:stop]))
    total_nll = correct = count = 0.0
    for length, windows in by_length.items():
        batch = (torch.stack([t for t, _ in windows]), torch.stack([m for _, m in windows]))
        scores = evaluate(model, batch, config.eval_batch_size, device, pick_precision(device))
        targets = len(windows) * (length - 1)  # evaluate averages over its targets: weigh each batch by them
        total_nll += scores["nll"] * targets
        correct += scores["acc"] * targets
        count += targets
    nll = total_nll / count
    scores = {"nll": nll, "ppl": math.exp(nll), "acc": correct / count, "tokens": int(count)}
    return scores, sum(len(windows) for windows in by_length.values())
