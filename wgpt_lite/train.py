"""Training and evaluation: one loop for all three models, so that they differ only in the model.

    >>> import tempfile, wgpt_lite as wl
    >>> tok = wl.corpus_tokenizer("sample-speech", "melvq")
    >>> train_ds = wl.features("sample-speech", "train", tok)
    >>> eval_batch = wl.eval_crops(wl.features("sample-speech", "validation", tok), context=32, n_crops=8)
    >>> model = wl.build_model("hybrid", "smoke", vocab_size=tok.vocab_size)
    >>> run = wl.RunInfo(model="hybrid", preset="smoke", corpus="sample-speech", tokenizer=tok.name)
    >>> final = wl.train(model, train_ds, eval_batch, wl.train_config("smoke"), tempfile.mkdtemp(), run, progress=False)
    >>> final["step"], sorted(final)
    (20, ['acc', 'epoch', 'kind', 'nll', 'ppl', 'seconds', 'seed', 'step', 'tokenizer'])

The loop at its core is ``random_crops`` -> forward -> ``update`` -> ``scheduler.step``, with
``evaluate`` at the end of every epoch; notebook 04 writes it out in fifteen lines. What a
run writes in its folder:

- ``metrics.jsonl``: one JSON object a line. ``{"kind": "run", ...}`` first (model,
  preset, corpus, tokenizer, parameters, device, precision, both configs, the training
  data's ``provenance`` and the ``code`` version), then
  ``{"kind": "train", "step", "epoch", "loss", "lr"}`` every step and
  ``{"kind": "eval", "step", "epoch", "seed", "tokenizer", "nll", "ppl", "acc", "seconds"}`` at the
  end of every epoch (``seconds``: training wall time so far, over all sessions of the run),
  and with early stopping a last ``{"kind": "stop", "step", "best_step", "best_nll"}``.
- ``checkpoint.pt``: model, optimizer, scheduler, step, configs, run identity, provenance,
  code version and RNG states, replaced atomically at the end of every epoch, so a kill or
  Ctrl-C always leaves the previous one intact. ``resume=True`` continues from it and
  produces the same curve, to the last digit on CPU, as a run never interrupted.
- ``best.pt``: with early stopping (``TrainConfig.patience``), the weights of the best
  validation NLL so far (the same entries as the checkpoint, without the optimizer). The run
  stops after ``patience`` evaluations without a better one; ``train`` then returns that
  best evaluation and leaves the model with its weights, so the run's result is its best
  point, not its last. A resumed run continues the count where the checkpoint left it.
- ``.lock``: held while a run writes the folder, naming its process (``wgpt_lite.runs.locks``):
  a second writer is refused. Empty between runs.

**Several processes.** Under ``torchrun`` the same loop trains with DistributedDataParallel
(``wgpt_lite.infra.distributed``): the global batch stays ``batch_size`` crops, split over the
ranks; rank 0 alone logs and writes; the curve is that of one process.

**Provenance.** ``train`` reads what its training data is made of from the feature cache
it came from (``provenance.data_provenance``: the corpus's content fingerprint, the
tokenizer's codebook or weights hash, mel and extraction settings). Resuming, and
``model_from_checkpoint(path, made_from)``, refuse in one line a checkpoint whose data was
another: a model is never scored on, or trained further with, tokens it was not trained on.
Data built in memory (no feature cache) has no provenance, recorded as ``None``.

An **epoch** is the number of steps whose crops add up to the training split's frames:
``ceil(train frames / (batch_size * context))``, unless a preset fixes ``epoch_steps``.
The budget is counted in steps (``TrainConfig.steps``) so that every model gets the same.
Device and precision: see ``wgpt_lite.infra.device``; budgets per preset: ``wgpt_lite.presets``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F

from wgpt_lite.audio import FRAME_RATE
from wgpt_lite.batches import check_control, control_batch, random_crops
from wgpt_lite.data.provenance import data_provenance, provenance_difference
from wgpt_lite.infra import distributed
from wgpt_lite.infra.atomic import atomic_path, write_text
from wgpt_lite.infra.code_version import code_version
from wgpt_lite.infra.device import autocast, pick_device, pick_precision
from wgpt_lite.infra.errors import CheckpointError, TrainingError
from wgpt_lite.infra.files import load_tensors
from wgpt_lite.model import GPT, ModelConfig, evaluation_mode, from_config
from wgpt_lite.runs.locks import holding_run_lock

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"  # with early stopping: the weights of the best validation NLL so far
METRICS = "metrics.jsonl"
CHECKPOINT_KEYS = ("run", "model_config", "train_config", "step", "model")  # what makes a torch file ours


@dataclass
class TrainConfig:
    steps: int  # optimizer steps: the whole budget, the same for every model
    batch_size: int  # crops per step
    context: int  # frames each crop feeds the model (a crop holds context + 1 tokens)
    lr: float  # peak learning rate, reached after warmup_steps
    warmup_steps: int
    min_lr_ratio: float = 0.1  # the cosine ends at lr * min_lr_ratio
    weight_decay: float = 0.1
    beta2: float = 0.95
    grad_clip: float = 1.0
    epoch_steps: int | None = None  # None: steps that cover the training frames once
    eval_crops: int = 64  # fixed validation crops every model is scored on
    eval_batch_size: int = 32
    seed: int = 0  # model init, dropout and the training crops (never the evaluation crops)
    compile: bool = False  # torch.compile the model (CUDA; slower to start, faster after)
    # Early stopping: stop after this many evaluations without a better validation NLL, and
    # keep the best weights (best.pt). 0: train all `steps` (the cosine ends there either way).
    patience: int = 0
    mel_control: str = "true"  # what the hybrid's mel is replaced by, in training and evaluation (controls.py)


@dataclass
class RunInfo:
    """What a run is: written into its logs and checkpoint, checked on resume."""

    model: str  # "gpt-s" | "gpt-l" | "hybrid"
    preset: str
    corpus: str
    tokenizer: str  # "encodec" | "melvq"


def lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warmup to 1, then a cosine down to ``min_lr_ratio`` at the last step."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def steps_per_epoch(train_data, config: TrainConfig) -> int:
    """Steps in one epoch: ``config.epoch_steps``, or enough crops to cover the training frames once."""
    if config.epoch_steps:
        return config.epoch_steps
    frames = round(sum(train_data["seconds"]) * FRAME_RATE)
    return max(1, math.ceil(frames / (config.batch_size * config.context)))


@torch.no_grad()
def evaluate(
    model: GPT, eval_batch, batch_size: int = 32, device: torch.device | None = None, precision: str = "fp32"
) -> dict:
    """NLL (nats/token), PPL = exp(NLL) and top-1 accuracy of ``model`` on fixed crops.

    ``eval_batch`` is ``(tokens [N, context+1], mel [N, context+1, 64])`` from
    ``wl.eval_crops``: every model sees the same frames, and every target counts once.

    >>> import math, torch, wgpt_lite as wl
    >>> model = wl.build_model("gpt-s", "smoke", vocab_size=16)
    >>> tokens, mel = torch.randint(0, 16, (4, 33)), torch.zeros(4, 33, wl.N_MELS)
    >>> scores = evaluate(model, (tokens, mel))
    >>> sorted(scores), abs(scores["nll"] - math.log(16)) < 0.5   # untrained: close to uniform
    (['acc', 'nll', 'ppl'], True)
    """
    device = device or next(model.parameters()).device
    tokens, mel = eval_batch
    total_nll, correct, count = 0.0, 0, 0
    with evaluation_mode(model):
        for start in range(0, tokens.shape[0], batch_size):
            ids = tokens[start : start + batch_size].to(device)
            frames = mel[start : start + batch_size].to(device)
            with autocast(device, precision):
                logits, _ = model(ids[:, :-1], mel=frames[:, :-1])
            logits, targets = logits.float().flatten(0, 1), ids[:, 1:].flatten()
            total_nll += F.cross_entropy(logits, targets, reduction="sum").item()
            correct += (logits.argmax(dim=-1) == targets).sum().item()
            count += targets.numel()
    nll = total_nll / count
    return {"nll": nll, "ppl": math.exp(nll), "acc": correct / count}


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save``, atomically: a kill never leaves half a checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint ``train`` wrote; anything else (missing, unreadable, another program's torch file,
    a checkpoint from before provenance was recorded) is refused with one ``CheckpointError`` line."""
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
    return checkpoint


def check_identity(checkpoint: dict, run: RunInfo, model: GPT, config: TrainConfig, path: Path) -> None:
    """Refuse, in words, a checkpoint of another model, preset, corpus, tokenizer, shape or budget."""

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


def check_provenance(checkpoint: dict, made_from: dict | None, path: str | os.PathLike) -> None:
    """Refuse, in one line, a checkpoint trained on other data than ``made_from`` describes: other
    tokens (codebook, EnCodec weights), another corpus content, other mel or extraction settings."""
    difference = provenance_difference(checkpoint["provenance"], made_from)
    if difference:
        raise CheckpointError(
            f"{path} was trained on other data than this: {difference}. Retrain into another output folder, "
            "or restore the corpus and tokenizer it was trained with"
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


def model_from_checkpoint(path: str | os.PathLike, made_from: dict | None = None) -> tuple[GPT, dict]:
    """Rebuild the model a checkpoint holds; returns ``(model, checkpoint)``.

    ``made_from``: the provenance of the data the model is about to see
    (``provenance.provenance(corpus, tokenizer)``, or ``data_provenance(dataset)``); a
    checkpoint trained on other data is refused (``check_provenance``). Without it, nothing is compared.
    """
    checkpoint = load_checkpoint(path)
    if made_from is not None:
        check_provenance(checkpoint, made_from, path)
    return rebuild_model(checkpoint, Path(path)), checkpoint


def rebuild_model(checkpoint: dict, path: Path) -> GPT:
    """The model of a loaded checkpoint, its weights in place (``path``: for messages)."""
    model = from_config(ModelConfig(**checkpoint["model_config"]))
    load_weights(model, checkpoint, path)
    return model


def read_metrics(path: str | os.PathLike, kind: str | None = None) -> list[dict]:
    """The records of a ``metrics.jsonl`` (those of one ``kind`` if given); a torn last line is skipped."""
    records = []
    if Path(path).exists():
        for line in Path(path).read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # the line a kill cut short
    return [r for r in records if kind is None or r["kind"] == kind]


OPTIMIZER_RANGE = "optimizer step and clipping"  # a profiler label: bench/ attributes time with it


def make_optimizer(model: GPT, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW as the kit trains with it: fused kernels on CUDA, torch's default elsewhere."""
    return torch.optim.AdamW(
        model.parameters(),
        lr=config.lr,
        betas=(0.9, config.beta2),
        weight_decay=config.weight_decay,
        fused=device.type == "cuda",
    )


def update(loss: torch.Tensor, model: GPT, optimizer, scaler, grad_clip: float) -> None:
    """One optimizer update from ``loss``: backward (scaled for fp16), unscale, clip, step."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    with torch.profiler.record_function(OPTIMIZER_RANGE):
        scaler.unscale_(optimizer)  # clip the true gradients, not the fp16-scaled ones
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()


@holding_run_lock  # one writer per run folder, from before the first write to the end of the run
def train(
    model: GPT,
    train_data,
    eval_batch,
    config: TrainConfig,
    run_dir: str | os.PathLike,
    run: RunInfo,
    *,
    resume: bool = False,
    until: int | None = None,
    device: str | None = None,
    progress: bool = True,
    on_eval=None,
) -> dict:
    """Train ``model`` on random crops of ``train_data`` for ``config.steps`` steps; return the last eval.

    ``train_data``: a features Dataset (``wl.features``); its provenance goes into the log and
    checkpoints, and must match the checkpoint's to resume. ``eval_batch``: fixed crops
    (``wl.eval_crops``). ``resume=True`` continues from ``run_dir/checkpoint.pt``;
    ``until`` stops (with a checkpoint) after that step, as if interrupted, e.g. to look
    at a notebook's curves before going on. ``on_eval(run, record)`` sees every evaluation
    record: first those already logged by earlier sessions of this run, then each new one.
    Under torchrun, every rank calls ``train`` alike; rank 0 writes, and alone calls ``on_eval``.
    """
    distributed.check_batch(config.batch_size)
    main = distributed.is_main()  # the rank that logs and writes; True for a single process
    on_eval = on_eval if main else None
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path, metrics_path = run_dir / CHECKPOINT, run_dir / METRICS
    control = check_control(config.mel_control)
    eval_batch = control_batch(eval_batch, control)
    device = distributed.local_device(pick_device(device))
    precision = pick_precision(device)
    epoch_steps = steps_per_epoch(train_data, config)
    raw_model = model.to(device)
    model = torch.compile(raw_model) if config.compile else raw_model
    forward = distributed.wrap(model, device)  # under torchrun: DDP, which averages the gradients in backward

    optimizer = make_optimizer(raw_model, config, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, config))
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    generator = torch.Generator().manual_seed(config.seed)  # the training crops, identical for every model
    torch.manual_seed(config.seed)  # dropout
    made_from = data_provenance(train_data)

    if checkpoint_path.exists():
        if not resume:
            raise CheckpointError(
                f"{checkpoint_path} exists; pass resume=True (--resume) to continue it, or use another output folder"
            )
        step, seconds_before, stopping = _restore(
            checkpoint_path, run, made_from, config, raw_model, optimizer, scheduler, scaler, generator
        )
    else:
        step, seconds_before = 0, 0.0  # seconds: training wall time of earlier sessions of this run
        stopping = no_stopping_yet()
        header = {
            "kind": "run",
            **asdict(run),
            "params": raw_model.num_params(),
            "device": str(device),
            "processes": distributed.world_size(),
            "precision": precision,
            "epoch_steps": epoch_steps,
            "model_config": asdict(raw_model.config),
            "train_config": asdict(config),
            "provenance": made_from,
            "code": code_version(),
        }
        if main:
            write_text(metrics_path, json.dumps(header) + "\n")

    started = time.perf_counter()

    def seconds():
        return round(seconds_before + time.perf_counter() - started, 2)

    def weights_state() -> dict:  # what best.pt holds, and checkpoint.pt with the training state added
        return {
            "run": asdict(run),
            "model_config": asdict(raw_model.config),
            "train_config": asdict(config),
            "provenance": made_from,
            "code": code_version(),
            "step": step,
            "seconds": seconds(),
            "model": raw_model.state_dict(),
        }

    def write_best():
        if main:
            save_checkpoint(run_dir / BEST, weights_state())

    def write_checkpoint():
        if not main:
            return
        save_checkpoint(
            checkpoint_path,
            {
                **weights_state(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": {"torch": torch.get_rng_state(), "batches": generator.get_state()},
                "early_stopping": stopping,
            },
        )

    earlier_evals = read_metrics(metrics_path, "eval")
    last_eval = next(iter(earlier_evals[-1:]), None)
    for record in earlier_evals if on_eval else ():
        on_eval(run, record)
    stop = min(config.steps, until or config.steps)
    model.train()
    with (
        _progress_bar(
            progress and main, initial=step, total=config.steps, desc=f"{run.model} on {run.corpus} ({run.tokenizer})"
        ) as bar,
        open(metrics_path if main else os.devnull, "a") as log,  # the other ranks log nowhere
    ):
        while step < stop and not stopping["stopped"]:
            # Every rank draws the whole batch from the same stream and trains on its share.
            batch = control_batch(random_crops(train_data, config.context, config.batch_size, generator), control)
            tokens, mel = (tensor.to(device) for tensor in distributed.my_share(*batch))
            with autocast(device, precision):
                _, loss = forward(tokens[:, :-1], mel=mel[:, :-1], targets=tokens[:, 1:])
            batch_loss = distributed.mean_over_ranks(loss)  # the same on every rank: all stop together on a NaN
            if not math.isfinite(batch_loss):
                raise _diverged(batch_loss, run, step, checkpoint_path)
            lr = scheduler.get_last_lr()[0]
            update(loss, raw_model, optimizer, scaler, config.grad_clip)
            scheduler.step()
            step += 1
            _log(log, {"kind": "train", "step": step, "epoch": step / epoch_steps, "loss": batch_loss, "lr": lr})
            bar.update()
            bar.set_postfix(loss=f"{batch_loss:.3f}", val=f"{last_eval['nll']:.3f}" if last_eval else "-")
            end_of_epoch = step % epoch_steps == 0 or step == config.steps
            if end_of_epoch:
                last_eval = {
                    "kind": "eval",
                    "step": step,
                    "epoch": step / epoch_steps,
                    "seed": config.seed,
                    "tokenizer": run.tokenizer,
                    **evaluate(model, eval_batch, config.eval_batch_size, device, precision),
                    "seconds": seconds(),
                }
                _log(log, last_eval)
                if on_eval:
                    on_eval(run, last_eval)
                if config.patience:
                    _early_stopping(stopping, last_eval, config.patience, write_best)
                    stopping = distributed.from_rank_zero(stopping)  # one decision for all ranks
                    if stopping["stopped"]:
                        _log(
                            log,
                            {
                                "kind": "stop",
                                "step": step,
                                "best_step": stopping["best_step"],
                                "best_nll": stopping["best_nll"],
                            },
                        )
            if end_of_epoch or step == stop:
                log.flush()  # the log reaches the checkpoint's step before the checkpoint is replaced
                write_checkpoint()
    distributed.barrier()  # the other ranks read what rank 0 wrote (the log, best.pt) only once it is there
    if config.patience and stopping["best_step"] is not None:
        # The run's result is its best evaluation: the model leaves with those weights.
        load_weights(raw_model, load_checkpoint(run_dir / BEST), run_dir / BEST)
        return next(r for r in read_metrics(metrics_path, "eval") if r["step"] == stopping["best_step"])
    return last_eval


def no_stopping_yet() -> dict:
    """The early-stopping state of a run that has not evaluated yet."""
    return {"best_step": None, "best_nll": math.inf, "stale": 0, "stopped": False}


def _early_stopping(stopping: dict, record: dict, patience: int, save_best) -> None:
    """Update ``stopping`` with a new evaluation: a better NLL is saved (``save_best``) and
    resets the count; ``patience`` evaluations in a row without one stop the run."""
    if record["nll"] < stopping["best_nll"]:
        stopping.update(best_step=record["step"], best_nll=record["nll"], stale=0)
        save_best()
    else:
        stopping["stale"] += 1
        stopping["stopped"] = stopping["stale"] >= patience


def _restore(
    path: Path,
    run: RunInfo,
    made_from: dict | None,
    config: TrainConfig,
    model: GPT,
    optimizer,
    scheduler,
    scaler,
    generator: torch.Generator,
) -> tuple[int, float, dict]:
    """Load a run's checkpoint into the training objects; return (step, training seconds so far,
    early-stopping state)."""
    checkpoint = load_checkpoint(path)
    check_identity(checkpoint, run, model, config, path)
    check_provenance(checkpoint, made_from, path)
    load_weights(model, checkpoint, path)
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    if checkpoint["scaler"]:  # empty when the run so far trained in bf16 or fp32: fp16 starts a fresh scale
        scaler.load_state_dict(checkpoint["scaler"])
    generator.set_state(checkpoint["rng"]["batches"])
    torch.set_rng_state(checkpoint["rng"]["torch"])
    step = checkpoint["step"]
    # Forget what was logged after the checkpoint: those steps are about to be redone.
    metrics_path = path.parent / METRICS
    kept = [r for r in read_metrics(metrics_path) if r["kind"] == "run" or r["step"] <= step]
    if distributed.is_main():
        write_text(metrics_path, "".join(json.dumps(r) + "\n" for r in kept))
    return step, checkpoint["seconds"], checkpoint.get("early_stopping", no_stopping_yet())


def _diverged(loss: float, run: RunInfo, step: int, checkpoint_path: Path) -> TrainingError:
    kept = (
        f"the checkpoint of step {step} in {checkpoint_path} is kept"
        if checkpoint_path.exists()
        else "no checkpoint was written yet"
    )
    return TrainingError(
        f"{run.model} on {run.corpus}: the loss became {loss} at step {step + 1}; "
        f"training stopped and {kept}. Check the features for NaN, or lower the learning rate"
    )


def _log(log, record: dict) -> None:
    log.write(json.dumps(record) + "\n")


def _progress_bar(enabled: bool, **kwargs):
    from tqdm.auto import tqdm  # lazy: tqdm.auto loads IPython when it is installed

    return tqdm(disable=not enabled, dynamic_ncols=True, **kwargs)
