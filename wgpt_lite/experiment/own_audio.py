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

import torch

from wgpt_lite.batches import clip_windows
from wgpt_lite.data.audio_folder import read_folder
from wgpt_lite.data.feature_cache import settings_key
from wgpt_lite.infra.device import pick_device, pick_precision
from wgpt_lite.runs.checkpoint import load_with_tokenizer
from wgpt_lite.tokenizers import clip_features
from wgpt_lite.train import TrainConfig, evaluate


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
