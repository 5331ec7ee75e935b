"""EnCodec's published 24 kHz weights: where the kit looks for them, how it loads or downloads them,
and the sha256 that names them (the EnCodec tokenizer's identity in every provenance record).

Air-gapped use: put ``ENCODEC_CHECKPOINT`` in ``$TORCH_HOME/hub/checkpoints/`` or in the folder
``WGPT_ENCODEC_DIR`` names; without it and without a network, loading fails in one line that says so.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import warnings
from pathlib import Path

import torch

from wgpt_lite.infra.atomic import check_folder_can_be_written
from wgpt_lite.infra.encodec_shim import import_encodec
from wgpt_lite.infra.errors import TokenizerError
from wgpt_lite.infra.files import file_sha256, load_tensors
from wgpt_lite.infra.settings import offline

ENCODEC_CHECKPOINT = "encodec_24khz-d7cc33bc.th"  # the file name torch hub and encodec use


DOWNLOAD_TIMEOUT_S = 20  # a dead network fails in seconds instead of hanging


def encodec_checkpoint_candidates() -> list[Path]:
    """Where a local copy of the EnCodec 24 kHz weights is looked for, in order."""
    places = []
    if os.environ.get("WGPT_ENCODEC_DIR"):
        places.append(Path(os.environ["WGPT_ENCODEC_DIR"]).expanduser() / ENCODEC_CHECKPOINT)
    places.append(Path(torch.hub.get_dir()) / "checkpoints" / ENCODEC_CHECKPOINT)  # honours $TORCH_HOME
    return places


def _missing_weights_message(reason: str) -> str:
    first, second = encodec_checkpoint_candidates()[-1], "$WGPT_ENCODEC_DIR/" + ENCODEC_CHECKPOINT
    return (
        f"EnCodec 24 kHz weights not found ({reason}). Put the file {ENCODEC_CHECKPOINT} either in "
        f"{first} (the torch hub cache, under $TORCH_HOME) or in a folder named by the environment "
        f"variable WGPT_ENCODEC_DIR ({second}). Any online machine downloads it with: "
        "python -m wgpt_lite data features sample-speech --tokenizer encodec (the download checks its sha256). "
        "Offline, use get_tokenizer('codec'), the kit's own codec, instead."
    )


def load_encodec_model(pretrained: bool = True) -> torch.nn.Module:
    """EnCodec's causal 24 kHz model in eval mode, with its pretrained weights.

    Looks for a local checkpoint first (``encodec_checkpoint_candidates``), then
    downloads through torch hub unless ``WGPT_OFFLINE`` is set. Never falls back
    silently: missing weights raise ``TokenizerError`` saying where to put the file.
    """
    local = next((p for p in encodec_checkpoint_candidates() if p.is_file()), None)
    if pretrained and local is None and offline():  # decided before the (slow) encodec import
        raise TokenizerError(_missing_weights_message("offline mode (WGPT_OFFLINE) and no local copy"))
    encodec = import_encodec()
    with warnings.catch_warnings():  # encodec 0.1.1 uses the deprecated weight_norm API; not ours to fix
        warnings.filterwarnings("ignore", message=".*weight_norm", category=FutureWarning)
        model = encodec.EncodecModel.encodec_model_24khz(pretrained=False)
    if not pretrained:
        return model
    if local is not None:
        state, source = _load_local_checkpoint(local), str(local)
    else:
        state, source = download_checkpoint(encodec), "torch hub download"
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise TokenizerError(
            f"{source}: not an EnCodec 24 kHz state dict ({str(err).splitlines()[0]}); "
            f"replace it with the published {ENCODEC_CHECKPOINT}"
        ) from err
    model.eval()
    return model


def _load_local_checkpoint(path: Path) -> dict:
    state = load_tensors(
        path,
        lambda reason: TokenizerError(f"{path}: cannot be read as a torch checkpoint ({reason}); download it again"),
        sealed=False,  # the published file: its sha256 is checked below
    )
    expected = ENCODEC_CHECKPOINT.split("-")[1].split(".")[0]
    if not weights_sha256(path).startswith(expected):
        warnings.warn(
            f"{path}: checksum differs from the published EnCodec weights ({expected}...); "
            "loading it anyway (a locally made or fine-tuned checkpoint?)",
            stacklevel=3,
        )
    return state


def download_checkpoint(encodec) -> dict:
    """The published weights, downloaded into the torch hub cache; a cache folder that cannot be made is told
    as such (a ``DataError`` naming TORCH_HOME, which ``auto`` does not take for missing weights)."""
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    check_folder_can_be_written(hub, "torch hub cache (TORCH_HOME)", fix="set TORCH_HOME to another folder")
    url = encodec.utils._get_checkpoint_url(encodec.model.ROOT_URL, ENCODEC_CHECKPOINT)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # torch hub's urlopen has no timeout of its own
    try:
        # weights_only: the downloaded file is unpickled as tensors only, like every file the kit loads
        return torch.hub.load_state_dict_from_url(
            url, map_location="cpu", check_hash=True, progress=True, weights_only=True
        )
    except Exception as err:
        raise TokenizerError(_missing_weights_message(f"download failed: {err}")) from err
    finally:
        socket.setdefaulttimeout(previous)


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file, read once per process for as long as its size and mtime stay the same."""
    stat = path.stat()
    return _file_sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _file_sha256_of(path: str, size: int, mtime_ns: int) -> str:  # size and mtime: a replaced file is a new key
    return file_sha256(path)


def state_dict_sha256(model: torch.nn.Module) -> str:
    """sha256 of a model's tensors (names and bytes, in order): the identity of weights that have no file."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def default_encodec_device() -> torch.device:
    """CUDA when there is one (a Colab T4), else the CPU: where EnCodec, the front end's heavy part, runs.

    Apple's MPS is not picked: EnCodec's kernels there are untested in this kit.
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
