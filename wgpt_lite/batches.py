"""Crops of ``context + 1`` aligned frames (tokens and log-mel) from a feature dataset.

A model reads frames ``0..context-1`` and predicts tokens ``1..context``, so each crop
holds ``context + 1`` frames and comes from one clip (never across two clips). Every
window of a long-enough clip is equally likely: clips are weighted by how many windows
they hold.

    >>> import torch, wgpt_lite as wl
    >>> ds = wl.features("sample-music", "train")
    >>> tokens, mel = wl.random_crops(ds, context=64, batch_size=8, generator=torch.Generator().manual_seed(0))
    >>> tokens.shape, mel.shape
    (torch.Size([8, 65]), torch.Size([8, 65, 64]))
    >>> eval_tokens, _ = wl.eval_crops(ds, context=64, n_crops=16)   # the same 16 crops on every call

The dataset's columns are concatenated once into two arrays (from the Arrow buffers, no
per-frame Python; mel widened to float32, 256 bytes a frame) and kept for the dataset's
lifetime, so a training step costs one index computation and one gather.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from wgpt_lite.audio import HOP, N_FFT
from wgpt_lite.infra.errors import DataError, TrainingError

_PREPARED: dict[str, ClipArrays] = {}  # dataset fingerprint -> its concatenated arrays
_MAX_PREPARED = 8  # a notebook may hold train, validation and test of two corpora


@dataclass
class ClipArrays:
    """All clips of a dataset end to end: ``tokens[starts[i] : starts[i] + lengths[i]]`` is clip i."""

    tokens: np.ndarray  # int64 [total_frames]
    mel: np.ndarray  # float32 [total_frames, n_mels]
    starts: torch.Tensor  # int64 [clips]
    lengths: torch.Tensor  # int64 [clips]
    ids: list[str]
    name: str  # "corpus/split", for error messages


def clip_arrays(dataset) -> ClipArrays:
    """The concatenated arrays of a feature dataset (prepared once per dataset fingerprint)."""
    key = dataset._fingerprint
    if key not in _PREPARED:
        import pyarrow.compute as pc

        if len(_PREPARED) >= _MAX_PREPARED:
            _PREPARED.pop(next(iter(_PREPARED)))
        table = (dataset.flatten_indices() if dataset._indices is not None else dataset).data.table
        tokens_col = table.column("tokens").combine_chunks()
        mel_col = table.column("mel").combine_chunks()
        lengths = np.asarray(pc.list_value_length(tokens_col).to_numpy(zero_copy_only=False), dtype=np.int64)
        # widened once here so that a crop is a plain gather: no per-step cast (see _crops)
        tokens = np.asarray(tokens_col.flatten().to_numpy(zero_copy_only=False), dtype=np.int64)
        mel = mel_col.flatten().flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(tokens), -1)
        _PREPARED[key] = ClipArrays(
            tokens=tokens,
            mel=mel,
            starts=torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)),
            lengths=torch.from_numpy(lengths),
            ids=table.column("id").to_pylist(),
            name=dataset.info.description or "dataset",
        )
    return _PREPARED[key]


def _crops(arrays: ClipArrays, context: int, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n windows drawn uniformly among all windows of context+1 frames inside one clip."""
    span = context + 1
    windows = (arrays.lengths - context).clamp(min=0)  # window starts per clip
    if int(windows.sum()) == 0:
        longest = int(arrays.lengths.argmax())
        raise DataError(
            f"{arrays.name}: no clip holds {span} frames (context {context} + 1); the longest, "
            f"{arrays.ids[longest]}, has {int(arrays.lengths[longest])}; use a smaller context or longer clips"
        )
    ends = windows.cumsum(0)
    pick = torch.randint(int(ends[-1]), (n,), generator=generator)
    clip = torch.searchsorted(ends, pick, right=True)
    first = arrays.starts[clip] + pick - (ends[clip] - windows[clip])  # global index of each window's frame 0
    index = (first[:, None] + torch.arange(span)).numpy()
    # numpy's single-threaded gather: torch's multi-threaded one was 40x slower on 2 busy cores
    return torch.from_numpy(arrays.tokens.take(index)), torch.from_numpy(arrays.mel.take(index, axis=0))


def random_crops(
    dataset, context: int, batch_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch: (tokens LongTensor [B, context+1], mel FloatTensor [B, context+1, 64]).

    Deterministic for a given generator state; clips shorter than context+1 are never used.
    """
    return _crops(clip_arrays(dataset), context, batch_size, generator)


def eval_crops(dataset, context: int, n_crops: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded set of evaluation crops: every model is scored on exactly these frames.

    The windows depend only on the clip lengths and the seed, so two tokenizers of the
    same corpus split are scored on the same stretches of audio.
    """
    return _crops(clip_arrays(dataset), context, n_crops, torch.Generator().manual_seed(seed))


def clip_windows(n_frames: int, context: int) -> list[tuple[int, int]]:
    """``(start, stop)`` frames of the windows a whole clip is scored in: ``context + 1`` frames each,
    a window starting on the last frame of the one before, so each frame after the first is a target once.

    >>> clip_windows(n_frames=70, context=32)
    [(0, 33), (32, 65), (64, 70)]
    """
    return [(start, min(start + context + 1, n_frames)) for start in range(0, n_frames - 1, context)]


# What the hybrid's mel can be replaced by, in training and evaluation (experiment/controls.py says why).
MEL_CONTROLS = ("true", "other-clip", "zeros", "behind", "ahead", "lagged")

# How late the "lagged" control's mel is, in frames: the least delay that keeps every sample of token t+1's
# window out of what the model sees at position t. Mel frame t is the window of samples
# (t+1)·HOP − N_FFT .. (t+1)·HOP (audio.py), and a melvq token t+1 is the nearest centroid of mel frame t+1,
# made from samples (t+2)·HOP − N_FFT .. (t+2)·HOP. Fed frame t − L at position t, the model's newest sample
# is the one before (t − L + 1)·HOP, which lies before token t+1's window when
# (t − L + 1)·HOP <= (t + 2)·HOP − N_FFT, i.e. L >= N_FFT / HOP − 1 = 2.2 frames: L = 3. The newest sample
# seen then ends 256 samples before that window; with L = 2 the two would share 64 samples.
MEL_LAG = math.ceil(N_FFT / HOP) - 1


def check_control(control: str) -> str:
    """``control`` if it is one of ``MEL_CONTROLS``; otherwise one line listing them."""
    if control not in MEL_CONTROLS:
        raise TrainingError(f"unknown mel control {control!r}; choose one of {', '.join(MEL_CONTROLS)}")
    return control


def lag_mel(mel: torch.Tensor, lag: int) -> torch.Tensor:
    """The mel frames ``[N, frames, n_mels]`` delayed by ``lag`` frames: frame ``t`` replaced by frame
    ``t - lag``, the first ``lag`` of each crop by zeros (a crop holds nothing earlier).

    >>> lag_mel(torch.arange(5.0).view(1, 5, 1), 3)[0, :, 0].tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0]
    """
    lagged = torch.zeros_like(mel)
    lagged[:, lag:] = mel[:, : max(mel.shape[1] - lag, 0)]
    return lagged


def control_mel(mel: torch.Tensor, control: str) -> torch.Tensor:
    """The mel frames ``[N, frames, n_mels]`` as ``control`` replaces them (a new tensor, or ``mel`` for "true").

    The controls (``MEL_CONTROLS``) and what each tests: ``wgpt_lite/experiment/controls.py``.

    >>> mel = torch.arange(2 * 3 * 1.0).view(2, 3, 1)
    >>> control_mel(mel, "ahead")[0, :, 0].tolist(), control_mel(mel, "behind")[0, :, 0].tolist()
    ([1.0, 2.0, 2.0], [0.0, 0.0, 1.0])
    >>> control_mel(mel, "other-clip")[0, :, 0].tolist()   # crop 1's frames
    [3.0, 4.0, 5.0]
    """
    check_control(control)
    if control == "true":
        return mel
    if control == "zeros":
        return torch.zeros_like(mel)
    if control == "other-clip":
        return mel.roll(max(1, mel.shape[0] // 2), dims=0)
    if control == "behind":
        return lag_mel(mel, 1)
    if control == "lagged":
        return lag_mel(mel, MEL_LAG)
    ahead = torch.empty_like(mel)  # the last frame has no successor in the crop; it keeps its own
    ahead[:, :-1], ahead[:, -1] = mel[:, 1:], mel[:, -1]
    return ahead


def control_batch(batch: tuple[torch.Tensor, torch.Tensor], control: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens, mel)`` with the mel replaced by ``control``; the tokens never change."""
    tokens, mel = batch
    return tokens, control_mel(mel, control)
