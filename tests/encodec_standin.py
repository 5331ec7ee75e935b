"""Write a locally made EnCodec 24 kHz checkpoint where torch hub keeps the real one.

The published weights cannot be downloaded in CI. This stand-in has the real
architecture and state-dict keys (random weights, codebooks k-means-initialised on a
test signal), so with it ``get_tokenizer("auto")`` resolves to EnCodec and every EnCodec
code path runs for real; only the tokens mean nothing. ``make test`` uses it to run the
notebooks the way Colab does, from an empty cache::

    TORCH_HOME=/tmp/torch python tests/encodec_standin.py     # -> $TORCH_HOME/hub/checkpoints/encodec_24khz-d7cc33bc.th
"""

from pathlib import Path

import torch

from wgpt_lite.infra.encodec_weights import ENCODEC_CHECKPOINT
from wgpt_lite.tokenizers import EncodecTokenizer


def write_standin(folder: Path) -> Path:
    """Save a calibrated random-init EnCodec state dict as ``folder/ENCODEC_CHECKPOINT``."""
    seconds = torch.arange(2 * 24_000) / 24_000
    calibration = 0.3 * torch.sin(2 * torch.pi * (220 + 330 * seconds) * seconds)
    path = folder / ENCODEC_CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(EncodecTokenizer.untrained(calibration).model.state_dict(), path)
    return path


if __name__ == "__main__":
    print(write_standin(Path(torch.hub.get_dir()) / "checkpoints"))
