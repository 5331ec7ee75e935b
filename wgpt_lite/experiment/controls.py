"""Controls: what does the hybrid take from its mel? Replace the mel and watch the NLL.

A hybrid that beats GPT-S could be using the spectrogram, or just be a better-initialised
GPT; and a hybrid that beats it by too much may be reading the future. Each control swaps
the mel frames a crop carries (``[N, frames, n_mels]``, the model is fed frames ``0..T-1``
and predicts tokens ``1..T``) for something else, in evaluation or in training
(``TrainConfig.mel_control``):

- ``"true"``: the real mel, frame ``t`` aligned with token ``t`` (what the hybrid is).
- ``"other-clip"``: the mel of another crop of the batch (the one half a batch away), so
  it is real audio, of the right statistics, about something else. A hybrid that uses
  its mel should lose here; one that ignores it should not notice.
- ``"zeros"``: every mel value 0 (the normalised log-mel of a -40 dB floor): no information.
- ``"behind"``: frame ``t`` replaced by frame ``t - 1`` (the first by zeros): the mel one
  hop late, so the newest 320 samples are missing. How much of the gain is in the newest hop?
- ``"ahead"``: frame ``t`` replaced by frame ``t + 1``: the mel of the very token being
  predicted. **This is a leak, on purpose**: a hybrid trained on it should gain an
  implausible amount, which proves the experiment would notice one. The real front end
  must never look like this (``wgpt_lite.experiment.causality`` tests that it does not).
- ``"lagged"``: frame ``t`` replaced by frame ``t - MEL_LAG`` (3; the first 3 of a crop by zeros):
  the newest mel whose window shares no sample with token ``t + 1``'s, when that token is made from
  mel frame ``t + 1`` (melvq; ``batches.MEL_LAG`` derives the lag). Mel frame ``t`` shares 704 of
  its 1,024 samples with frame ``t + 1``, so a melvq token ``t + 1`` is mostly the audio the hybrid
  already sees; trained on ``lagged``, the hybrid keeps what its mel tells without that overlap, and
  the difference from the true-mel hybrid bounds what the overlap is worth (from above: the lag also
  hides 256 samples outside the target's window).

The replacements themselves are ``control_mel`` and ``control_batch`` in ``wgpt_lite/batches.py``
(the training loop applies them to its crops); this module scores what they change.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wgpt_lite.batches import clip_windows
from wgpt_lite.infra.errors import TrainingError
from wgpt_lite.model import evaluation_mode


@torch.no_grad()
def position_nll(model, batch: tuple[torch.Tensor, torch.Tensor], batch_size: int = 32) -> torch.Tensor:
    """NLL (nats) at each position of the context, averaged over the crops: FloatTensor [T].

    Position ``t`` predicts token ``t + 1`` having seen ``t + 1`` frames. "What the mel adds"
    is the hybrid's curve minus GPT-S's: where in the context the spectrogram helps.
    """
    tokens, mel = batch
    total = torch.zeros(tokens.shape[1] - 1, dtype=torch.float64)
    with evaluation_mode(model):
        for start in range(0, tokens.shape[0], batch_size):
            total += _target_nll(model, tokens[start : start + batch_size], mel[start : start + batch_size]).sum(0)
    return (total / tokens.shape[0]).float()


@torch.no_grad()
def frame_nll(model, tokens: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
    """NLL (nats) of every predicted frame of one clip: tokens [T], mel [T, n_mels] -> FloatTensor [T - 1].

    Entry ``t`` is the NLL of token ``t + 1`` at position ``t``, having seen tokens (and, for the
    hybrid, mel frames) up to ``t``. A clip longer than the model's context is scored in the
    consecutive windows of ``batches.clip_windows`` (as ``evaluate --audio`` scores your audio), so
    every frame after the first is predicted exactly once; the first prediction of each window sees
    one frame. GPT ignores ``mel``. GPT-S's minus the hybrid's, frame by frame, shows where in
    the clip the spectrogram helps (``plots.plot_gain_over_spectrogram``).
    """
    if tokens.shape[0] < 2 or mel.shape[0] != tokens.shape[0]:
        raise TrainingError(
            f"frame_nll needs at least 2 aligned frames: tokens {tuple(tokens.shape)}, mel {tuple(mel.shape)}"
        )
    with evaluation_mode(model):
        windows = clip_windows(tokens.shape[0], model.config.context)
        nll = [
            _target_nll(model, tokens[None, start:stop].long(), mel[None, start:stop].float())[0]
            for start, stop in windows
        ]
    return torch.cat(nll).float()


def _target_nll(model, tokens: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
    """NLL (nats) of every target of crops ``tokens`` [B, T + 1] (mel aligned): float64 [B, T], on the CPU."""
    device = next(model.parameters()).device
    ids, frames = tokens.to(device), mel.to(device)
    logits, _ = model(ids[:, :-1], mel=frames[:, :-1])
    nll = F.cross_entropy(logits.float().flatten(0, 1), ids[:, 1:].flatten(), reduction="none")
    return nll.view(ids.shape[0], -1).double().cpu()
