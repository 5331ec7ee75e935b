"""A run folder: what a training run writes around the loop of ``wgpt_lite/train.py``.

``RunFolder`` is the loop's ``Hooks`` for a folder on disk; ``train_in_folder`` trains into one:

    >>> import tempfile, wgpt_lite as wl
    >>> tok = wl.corpus_tokenizer("sample-speech", "melvq")
    >>> train_ds = wl.features("sample-speech", "train", tok)
    >>> eval_batch = wl.eval_crops(wl.features("sample-speech", "validation", tok), context=32, n_crops=8)
    >>> model = wl.build_model("hybrid", "smoke", vocab_size=tok.vocab_size)
    >>> run = wl.RunInfo(model="hybrid", preset="smoke", corpus="sample-speech", tokenizer=tok.name)
    >>> final = wl.train_in_folder(model, train_ds, eval_batch, wl.train_config("smoke"), tempfile.mkdtemp(), run,
    ...                            progress=False)
    >>> final["step"], sorted(final)
    (20, ['acc', 'epoch', 'kind', 'nll', 'ppl', 'seconds', 'seed', 'step', 'tokenizer'])

What the folder holds:

- ``metrics.jsonl``: one JSON object a line. ``{"kind": "run", ...}`` first (model,
  preset, corpus, tokenizer, parameters, device, precision, both configs, the training
  data's ``provenance`` and the ``code`` version), then
  ``{"kind": "train", "step", "epoch", "loss", "lr"}`` every step and
  ``{"kind": "eval", "step", "epoch", "seed", "tokenizer", "nll", "ppl", "acc", "seconds"}`` at the
  end of every epoch (``seconds``: training wall time so far, over all sessions of the run),
  and with early stopping a last ``{"kind": "stop", "step", "best_step", "best_nll"}``.
- ``checkpoint.pt``: model, optimizer, scheduler, step, configs, run identity, provenance,
  code version, RNG states and the count and sha256 of the log's lines so far (``log``),
  sealed with a digest of its content and replaced atomically at the end of every epoch, so a kill or
  Ctrl-C always leaves the previous one intact. ``resume=True`` continues from it and
  produces the same curve, to the last digit on CPU, as a run never interrupted: it keeps exactly
  the log lines the checkpoint vouches for, and refuses in one line a log that no longer holds them
  (emptied, cut short, edited), rather than train on with a shorter log. It is read back, with its
  checks, by ``wgpt_lite/runs/checkpoint.py``.
- ``best.pt``: with early stopping (``TrainConfig.patience``), the weights of the best
  validation NLL so far (the checkpoint's entries without the training state: no optimizer, scheduler,
  scaler, RNG or early-stopping state). The run
  stops after ``patience`` evaluations without a better one; the run's result is then that
  best evaluation and the model leaves with its weights: its best point, not its last. A
  resumed run continues the count where the checkpoint left it.
- ``.lock``: held while a run writes the folder, naming its process (``wgpt_lite/runs/locks.py``):
  a second writer is refused. Empty between runs.

**Provenance.** The folder records what the training data is made of, read from the feature
cache it came from (``provenance.data_provenance``). Resuming refuses in one line a checkpoint
whose data was another. Data built in memory (no feature cache) has no provenance, recorded as ``None``.

**Several processes.** Under ``torchrun``, rank 0 alone holds the lock, logs and writes; the
other ranks keep their records in memory and take rank 0's early-stopping decision.
"""

from __future__ import annotations

import json
import math
import os
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

import torch

from wgpt_lite.data.provenance import data_provenance
from wgpt_lite.infra import distributed
from wgpt_lite.infra.atomic import write_text
from wgpt_lite.infra.code_version import code_version
from wgpt_lite.infra.errors import CheckpointError
from wgpt_lite.infra.files import log_mark, read_json_lines, restore_log
from wgpt_lite.runs.checkpoint import (
    BEST,
    CHECKPOINT,
    check_identity,
    check_provenance,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from wgpt_lite.runs.locks import run_lock
from wgpt_lite.train import Hooks, RunInfo, TrainConfig, TrainState, train

METRICS = "metrics.jsonl"


class RunFolder(Hooks):
    """The loop's hooks for a run folder: lock, log, checkpoints, resume, early stopping, best weights.

    Use it as a context manager (it holds the folder's lock inside the ``with``), or through
    ``train_in_folder``. ``resume``: continue the folder's checkpoint (without it, an existing
    checkpoint is refused). ``on_eval(run, record)`` sees every evaluation record: first those
    logged by earlier sessions of the run, then each new one (rank 0 only).
    """

    def __init__(self, run_dir: str | os.PathLike, run: RunInfo, *, resume: bool = False, on_eval=None):
        self.main = distributed.is_main()  # the rank that logs and writes; True for a single process
        super().__init__(on_eval if self.main else None)
        self.dir, self.run, self.resume = Path(run_dir), run, resume
        self.stopping = no_stopping_yet()
        self._exit = ExitStack()

    def __enter__(self) -> RunFolder:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.main:  # one writer per folder, from before the first write to the end of the run
            self._exit.enter_context(run_lock(self.dir))
        return self

    def __exit__(self, *exc) -> None:
        self._exit.close()

    def begin(self, state: TrainState, train_data) -> None:
        self.made_from = data_provenance(train_data)
        path = self.dir / CHECKPOINT
        if path.exists():
            if not self.resume:
                raise CheckpointError(
                    f"{path} exists; pass resume=True (--resume) to continue it, or use another output folder"
                )
            self._restore(state)
        elif self.main:
            write_text(self.dir / METRICS, json.dumps(self._header(state)) + "\n")
        for record in read_metrics(self.dir / METRICS, "eval"):
            super().evaluated(state, record)  # the earlier sessions' evaluations, as if just made
        self._log = self._exit.enter_context(open(self.dir / METRICS if self.main else os.devnull, "a"))

    def log(self, record: dict) -> None:
        self._log.write(json.dumps(record) + "\n")

    def evaluated(self, state: TrainState, record: dict) -> None:
        self.log(record)
        super().evaluated(state, record)
        if state.config.patience:
            self._early_stopping(state, record)

    def save(self, state: TrainState) -> None:
        self._log.flush()  # the log reaches the checkpoint's step before the checkpoint is replaced
        if self.main:
            save_checkpoint(
                self.dir / CHECKPOINT,
                {
                    **self._weights(state),
                    "optimizer": state.optimizer.state_dict(),
                    "scheduler": state.scheduler.state_dict(),
                    "scaler": state.scaler.state_dict(),
                    "rng": {"torch": torch.get_rng_state(), "batches": state.generator.get_state()},
                    "early_stopping": self.stopping,
                    "log": log_mark(self.dir / METRICS),
                },
            )

    def kept(self, state: TrainState) -> str:
        path = self.dir / CHECKPOINT
        return f"the checkpoint of step {state.step} in {path} is kept" if path.exists() else super().kept(state)

    def result(self, state: TrainState) -> dict:
        if state.config.patience and self.stopping["best_step"] is not None:
            # The run's result is its best evaluation: the model leaves with those weights.
            best = load_checkpoint(self.dir / BEST, self.made_from)  # this run's data, this run's model
            check_identity(best, self.run, state.model, state.config, self.dir / BEST)
            load_weights(state.model, best, self.dir / BEST)
            return next(r for r in read_metrics(self.dir / METRICS, "eval") if r["step"] == self.stopping["best_step"])
        return super().result(state)

    def _header(self, state: TrainState) -> dict:
        return {
            "kind": "run",
            **asdict(self.run),
            "params": state.model.num_params(),
            "device": str(state.device),
            "processes": distributed.world_size(),
            "precision": state.precision,
            "epoch_steps": state.epoch_steps,
            "model_config": asdict(state.model.config),
            "train_config": asdict(state.config),
            "provenance": self.made_from,
            "code": code_version(),
        }

    def _weights(self, state: TrainState) -> dict:
        """What best.pt holds, and checkpoint.pt with the training state added."""
        return {
            "run": asdict(self.run),
            "model_config": asdict(state.model.config),
            "train_config": asdict(state.config),
            "provenance": self.made_from,
            "code": code_version(),
            "step": state.step,
            "seconds": state.seconds(),
            "model": state.model.state_dict(),
        }

    def _early_stopping(self, state: TrainState, record: dict) -> None:
        """A better NLL is saved (best.pt) and resets the count; ``patience`` evaluations in a row
        without one stop the run, with the same decision on every rank."""
        stopping = self.stopping
        if record["nll"] < stopping["best_nll"]:
            stopping.update(best_step=record["step"], best_nll=record["nll"], stale=0)
            if self.main:
                save_checkpoint(self.dir / BEST, self._weights(state))
        else:
            stopping["stale"] += 1
            stopping["stopped"] = stopping["stale"] >= state.config.patience
        self.stopping = distributed.from_rank_zero(stopping)
        state.stopped = self.stopping["stopped"]
        if state.stopped:
            best = {"best_step": self.stopping["best_step"], "best_nll": self.stopping["best_nll"]}
            self.log({"kind": "stop", "step": state.step, **best})

    def _restore(self, state: TrainState) -> None:
        """Load the folder's checkpoint into the training state, and forget what was logged after it."""
        path = self.dir / CHECKPOINT
        checkpoint = load_checkpoint(path)
        check_identity(checkpoint, self.run, state.model, state.config, path)
        check_provenance(checkpoint, self.made_from, path)
        load_weights(state.model, checkpoint, path)
        state.optimizer.load_state_dict(checkpoint["optimizer"])
        state.scheduler.load_state_dict(checkpoint["scheduler"])
        if checkpoint["scaler"]:  # empty when the run so far trained in bf16 or fp32: fp16 starts a fresh scale
            state.scaler.load_state_dict(checkpoint["scaler"])
        state.generator.set_state(checkpoint["rng"]["batches"])
        torch.set_rng_state(checkpoint["rng"]["torch"])
        state.step, state.seconds_before = checkpoint["step"], checkpoint["seconds"]
        self.stopping = checkpoint.get("early_stopping", no_stopping_yet())
        state.stopped = self.stopping["stopped"]
        if self.main:  # the log's lines after the checkpoint's are about to be redone
            restore_log(
                self.dir / METRICS,
                checkpoint["log"],
                lambda reason: CheckpointError(
                    f"{self.dir / METRICS}: not the log of {path}'s step {state.step} ({reason}); put back the "
                    f"log that goes with it, or delete {self.dir} and train again"
                ),
            )


def train_in_folder(
    model,
    train_data,
    eval_batch,
    config: TrainConfig,
    run_dir: str | os.PathLike,
    run: RunInfo,
    *,
    resume: bool = False,
    on_eval=None,
    **options,
) -> dict:
    """``train`` with a ``RunFolder`` at ``run_dir``; ``options``: ``train``'s (``until``, ``device``, ``progress``)."""
    with RunFolder(run_dir, run, resume=resume, on_eval=on_eval) as folder:
        return train(model, train_data, eval_batch, config, run, folder, **options)


def no_stopping_yet() -> dict:
    """The early-stopping state of a run that has not evaluated yet."""
    return {"best_step": None, "best_nll": math.inf, "stale": 0, "stopped": False}


def read_metrics(path: str | os.PathLike, kind: str | None = None) -> list[dict]:
    """The records of a ``metrics.jsonl`` (those of one ``kind`` if given); none when there is no log.

    A last line a kill cut short is skipped; any other line that does not parse is refused in one
    line naming its number."""
    if not Path(path).exists():
        return []
    records = read_json_lines(path, "the run's log", "delete the run folder and train again")
    return [r for r in records if kind is None or r.get("kind") == kind]


def stop_reason(run_dir: str | os.PathLike, steps: int) -> str | None:
    """Why the run in ``run_dir`` ended, from its log: "the budget's end" (an evaluation at step ``steps``)
    or "early stopping" (its "stop" record); ``None`` while it is not finished (never started, or interrupted).
    A run with a reason is one ``reproduce`` only re-scores; one with ``None`` it trains, or resumes."""
    records = read_metrics(Path(run_dir) / METRICS)
    if any(r["kind"] == "eval" and r["step"] == steps for r in records):
        return "the budget's end"
    if any(r["kind"] == "stop" for r in records):
        return "early stopping"
    return None
