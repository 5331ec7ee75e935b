"""Checkpoints: written atomically, read in one place, with one set of checks.

Every reader of a checkpoint — resume, the ``evaluate`` command, re-scoring, ``sample`` and
generation — goes through ``load_checkpoint``, which refuses in one ``CheckpointError`` line:

1. a missing or unreadable file, a torch file that would unpickle code, and one whose content
   no longer matches the digest written with it: damaged after it was written (``load_tensors``);
2. a torch file without the kit's entries (``CHECKPOINT_KEYS``): another program's;
3. a checkpoint from before the kit recorded what it was trained on (no ``provenance``);
4. given ``made_from`` (the provenance of the data about to be used): one trained on other
   data — another corpus content, other tokens, other mel settings (``provenance_difference``);
   given only a ``tokenizer``: one trained on other tokens (another kind, codebook or weights).

Resuming also checks the run's identity (``check_identity``: model, preset, corpus, tokenizer,
shapes and budget), and rebuilding a model refuses weights of another layer layout
(``load_weights``); ``RunFolder._restore`` (``wgpt_lite/runs/run_folder.py``) then puts the
training state back (optimizer, scheduler, loss scale, RNG states, step, early stopping) and cuts
``metrics.jsonl`` back to the checkpoint's step. What a checkpoint holds: ``run_folder.py`` too.

    >>> import tempfile, torch
    >>> path = Path(tempfile.mkdtemp()) / "checkpoint.pt"
    >>> save_tensors(path, {"weights": torch.zeros(2)})
    >>> try:
    ...     load_checkpoint(path)
    ... except CheckpointError as err:
    ...     print(str(err).removeprefix(f"{path}: ")[:63])
    not a wgpt_lite checkpoint (a torch file without the run, model
"""

from __future__ import annotations

import os
from dataclasses import MISSING, asdict, fields
from pathlib import Path

from wgpt_lite.data.feature_cache import corpus_tokenizer
from wgpt_lite.data.provenance import provenance, provenance_difference
from wgpt_lite.infra.errors import CheckpointError
from wgpt_lite.infra.files import load_tensors, save_tensors
from wgpt_lite.model import GPT, ModelConfig, from_config
from wgpt_lite.tokenizers import tokenizer_difference

CHECKPOINT = "checkpoint.pt"  # the run's latest state, replaced at the end of every epoch
BEST = "best.pt"  # with early stopping: the weights of the best validation NLL so far
CHECKPOINT_KEYS = ("run", "model_config", "train_config", "step", "model")  # what makes a torch file ours


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save``, atomically and sealed with its content's digest: a kill never leaves half a
    checkpoint, and a damaged one is refused when read."""
    save_tensors(path, state)


def load_checkpoint(path: str | os.PathLike, made_from: dict | None = None, tokenizer=None) -> dict:
    """A checkpoint ``train`` wrote, checked (see the module's list); anything else is one ``CheckpointError`` line.

    ``made_from``: the provenance of the data it is about to see (``provenance(corpus, tokenizer)``
    or ``data_provenance(dataset)``). ``tokenizer``: the tokenizer of the tokens it is about to see,
    when there is no corpus to compare (a prompt of your own). Neither: nothing is compared.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no checkpoint there; train first (python -m wgpt_lite train ...)")
    checkpoint = load_tensors(
        path,
        lambda reason: CheckpointError(
            f"{path}: not a readable wgpt_lite checkpoint ({reason}); delete it and train again"
        ),
    )
    if not isinstance(checkpoint, dict) or not all(key in checkpoint for key in CHECKPOINT_KEYS):
        raise CheckpointError(
            f"{path}: not a wgpt_lite checkpoint (a torch file without the {', '.join(CHECKPOINT_KEYS)} entries that "
            "train writes); give the checkpoint.pt of a run folder"
        )
    if "provenance" not in checkpoint:
        raise CheckpointError(
            f"{path}: written by an older wgpt_lite that did not record the corpus and tokens it was trained on, "
            f"so nothing can vouch for its scores; retrain it: delete {path.parent} (or use another output folder) "
            "and run again (`make demo` re-trains the mini results)"
        )
    if made_from is not None:
        check_provenance(checkpoint, made_from, path)
    if tokenizer is not None:
        check_tokens(checkpoint, tokenizer, path)
    return checkpoint


def check_provenance(checkpoint: dict, made_from: dict | None, path: str | os.PathLike) -> None:
    """Refuse, in one line, a checkpoint trained on other data than ``made_from`` describes: other
    tokens (codebook, EnCodec weights), another corpus content, other mel or extraction settings."""
    difference = provenance_difference(checkpoint["provenance"], made_from)
    if difference:
        raise CheckpointError(
            f"{path} was trained on other data than this: {difference}. Retrain into another output folder, "
            "or restore the corpus and tokenizer it was trained with"
        )


def check_tokens(checkpoint: dict, tokenizer, path: str | os.PathLike) -> None:
    """Refuse a checkpoint trained with another tokenizer than ``tokenizer``: another kind, codebook or weights."""
    trained_with = checkpoint["run"].get("tokenizer")
    if trained_with != tokenizer.name:
        raise CheckpointError(
            f"{path} was trained on {trained_with} tokens, and these prompts are {tokenizer.name} tokens; "
            f"use get_tokenizer({trained_with!r}) (the one it was trained with), or a checkpoint trained on "
            f"{tokenizer.name}"
        )
    then = (checkpoint["provenance"] or {}).get("tokenizer")
    difference = then and tokenizer_difference(then, tokenizer.settings())
    if difference:
        raise CheckpointError(
            f"{path} was trained with another {tokenizer.name} tokenizer: {difference}; "
            "load the tokenizer it was trained with"
        )


def check_identity(checkpoint: dict, run, model: GPT, config, path: Path) -> None:
    """Refuse, in words, a checkpoint of another model, preset, corpus, tokenizer, shape or budget
    than the run about to resume it (``run``: a ``RunInfo``, ``config``: a ``TrainConfig``)."""

    def differences(saved: dict, wanted, ignore=()) -> list[str]:
        # A field the checkpoint lacks was added to the kit later: the run that wrote it had its default.
        defaults = {f.name: f.default for f in fields(wanted) if f.default is not MISSING}
        return [
            f"{key} {saved.get(key, defaults.get(key))!r} (this run: {value!r})"
            for key, value in asdict(wanted).items()
            if key not in ignore and saved.get(key, defaults.get(key)) != value
        ]

    # The first list that differs says it best: a model name before the shapes that follow from it.
    differ = (
        differences(checkpoint.get("run", {}), run)
        or differences(checkpoint.get("model_config", {}), model.config)
        or differences(checkpoint.get("train_config", {}), config, ignore=("compile",))
    )
    if differ:
        raise CheckpointError(
            f"{path} was written for another run: {'; '.join(differ)}. "
            "Use another output folder, or delete that checkpoint to start over"
        )


def load_weights(model: GPT, checkpoint: dict, path: Path) -> None:
    """The checkpoint's weights into ``model``; a layout from another version of the kit is refused in words."""
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as err:
        raise CheckpointError(
            f"{path} holds weights of another version of the {type(model).__name__} layers "
            f"({str(err).splitlines()[1].strip()}); delete it (or use another output folder) "
            "and train again"
        ) from err


def rebuild_model(checkpoint: dict, path: Path) -> GPT:
    """The model of a loaded checkpoint, its weights in place (``path``: for messages)."""
    model = from_config(ModelConfig(**checkpoint["model_config"]))
    load_weights(model, checkpoint, path)
    return model


def model_from_checkpoint(path: str | os.PathLike, made_from: dict | None = None, tokenizer=None) -> tuple[GPT, dict]:
    """Rebuild the model a checkpoint holds, checked by ``load_checkpoint``; returns ``(model, checkpoint)``."""
    checkpoint = load_checkpoint(path, made_from, tokenizer)
    return rebuild_model(checkpoint, Path(path)), checkpoint


def load_with_tokenizer(path: str | os.PathLike) -> tuple[dict, object, GPT]:
    """``(checkpoint, tokenizer, model)``: a checkpoint with the tokenizer of its corpus, refused in one line
    when today's corpus or tokens are not those it was trained on."""
    checkpoint = load_checkpoint(path)  # once: the corpus to compare with is the one it names
    run = checkpoint["run"]
    tok = corpus_tokenizer(run["corpus"], run["tokenizer"])
    check_provenance(checkpoint, provenance(run["corpus"], tok), path)
    return checkpoint, tok, rebuild_model(checkpoint, Path(path))


def load_for_generation(path: str | os.PathLike, tokenizer) -> GPT:
    """The model a checkpoint holds, in eval mode, refused when it was trained on other tokens than ``tokenizer``'s."""
    return model_from_checkpoint(path, tokenizer=tokenizer)[0].eval()


def scored_weights(run_dir: Path) -> Path:
    """The file holding the weights a run is scored with: ``best.pt`` after early stopping, else ``checkpoint.pt``."""
    return run_dir / BEST if (run_dir / BEST).exists() else run_dir / CHECKPOINT
