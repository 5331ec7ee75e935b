"""Training and evaluation: one loop for all three models, so that they differ only in the model.

``train`` is the whole loop: set up (device, precision, optimizer, schedule, seeds), then
``while``: ``random_crops`` -> forward -> ``update`` -> ``scheduler.step``, with ``evaluate``
on fixed crops at the end of every epoch. It reads no file and writes none: what a run does
around it (a lock, a log, checkpoints, resume, early stopping, the best weights) is behind
``Hooks``, which ``wl.RunFolder`` (``wgpt_lite/runs/run_folder.py``) implements for a folder on disk
(``wl.train_in_folder``). The base ``Hooks`` keep the records in memory:

    >>> import wgpt_lite as wl
    >>> tok = wl.corpus_tokenizer("sample-speech", "melvq")
    >>> train_ds = wl.features("sample-speech", "train", tok)
    >>> eval_batch = wl.eval_crops(wl.features("sample-speech", "validation", tok), context=32, n_crops=8)
    >>> model = wl.build_model("gpt-s", "smoke", vocab_size=tok.vocab_size)
    >>> run = wl.RunInfo(model="gpt-s", preset="smoke", corpus="sample-speech", tokenizer=tok.name)
    >>> hooks = wl.Hooks()
    >>> final = wl.train(model, train_ds, eval_batch, wl.train_config("smoke"), run, hooks, progress=False)
    >>> final["step"], [record["step"] for record in hooks.evaluations]
    (20, [5, 10, 15, 20])

An **epoch** is the number of steps whose crops add up to the training split's frames:
``ceil(train frames / (batch_size * context))``, unless a preset fixes ``epoch_steps``.
The budget is counted in steps (``TrainConfig.steps``) so that every model gets the same.

**Several processes.** Under ``torchrun`` the same loop trains with DistributedDataParallel
(``wgpt_lite.infra.distributed``): every rank draws the whole batch from the same stream and
trains on its share, so the global batch stays ``batch_size`` crops and the curve is that of
one process. Device and precision: ``wgpt_lite.infra.device``; budgets per preset: ``wgpt_lite.presets``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from wgpt_lite.audio import FRAME_RATE
from wgpt_lite.batches import check_control, control_batch, random_crops
from wgpt_lite.infra import distributed
from wgpt_lite.infra.device import autocast, pick_device, pick_precision
from wgpt_lite.infra.errors import TrainingError
from wgpt_lite.model import GPT, evaluation_mode


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


@dataclass
class TrainState:
    """Everything the loop changes as it goes: what a checkpoint saves and a resume restores."""

    model: GPT  # the model itself (not its compiled or DDP wrapper): the weights to save
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    generator: torch.Generator  # the training crops
    run: RunInfo
    config: TrainConfig
    device: torch.device
    precision: str
    epoch_steps: int
    step: int = 0
    stopped: bool = False  # early stopping said so (``Hooks.evaluated``)
    seconds_before: float = 0.0  # training wall time of earlier sessions of this run
    started: float = field(default_factory=time.perf_counter)

    def seconds(self) -> float:
        """Training wall time so far, over all sessions of the run."""
        return round(self.seconds_before + time.perf_counter() - self.started, 2)


class Hooks:
    """What happens around the loop, beside it. This base keeps the records in memory and writes
    nothing; ``wl.RunFolder`` (``wgpt_lite/runs/run_folder.py``) adds a folder: lock, log, checkpoints, resume, early
    stopping and the best weights. ``on_eval(run, record)`` sees every evaluation record."""

    def __init__(self, on_eval=None):
        self.on_eval = on_eval
        self.evaluations: list[dict] = []

    def begin(self, state: TrainState, train_data) -> None:
        """Before the first step; a resume moves ``state`` on to where the run stopped."""
        if state.config.patience:
            raise TrainingError("early stopping (patience) keeps the best weights in a run folder: use train_in_folder")

    def log(self, record: dict) -> None:
        """Every step's ``{"kind": "train", ...}`` record."""

    def evaluated(self, state: TrainState, record: dict) -> None:
        """An epoch's ``{"kind": "eval", ...}`` record; may set ``state.stopped``."""
        self.evaluations.append(record)
        if self.on_eval:
            self.on_eval(state.run, record)

    def save(self, state: TrainState) -> None:
        """At the end of every epoch, and where ``until`` stops the run."""

    def kept(self, state: TrainState) -> str:
        """What is left of a run that stops on a NaN, in words."""
        return "no checkpoint was written yet"

    def result(self, state: TrainState) -> dict:
        """What ``train`` returns: the last evaluation."""
        return self.evaluations[-1] if self.evaluations else None


def start(model: GPT, train_data, config: TrainConfig, run: RunInfo, device: str | None = None) -> TrainState:
    """The training state of a new run: model on its device, AdamW, warmup + cosine, loss scaling, seeds."""
    check_control(config.mel_control)
    distributed.check_batch(config.batch_size)
    device = distributed.local_device(pick_device(device))
    precision = pick_precision(device)
    optimizer = make_optimizer(model.to(device), config, device)
    torch.manual_seed(config.seed)  # dropout
    return TrainState(
        model=model,
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, config)),
        scaler=torch.amp.GradScaler(device.type, enabled=precision == "fp16"),
        generator=torch.Generator().manual_seed(config.seed),  # the training crops, identical for every model
        run=run,
        config=config,
        device=device,
        precision=precision,
        epoch_steps=steps_per_epoch(train_data, config),
    )


def train(
    model: GPT,
    train_data,
    eval_batch,
    config: TrainConfig,
    run: RunInfo,
    hooks: Hooks | None = None,
    *,
    until: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> dict:
    """Train ``model`` on random crops of ``train_data`` (``wl.features``) for ``config.steps`` steps,
    scored on ``eval_batch`` (``wl.eval_crops``) at every epoch's end; return the run's result
    (``hooks.result``: the last evaluation, or with early stopping the best).

    ``until`` stops (and saves) after that step, as if interrupted. Under torchrun every rank calls it alike.
    """
    hooks = hooks or Hooks()
    state = start(model, train_data, config, run, device)
    compiled = torch.compile(model) if config.compile else model
    forward = distributed.wrap(compiled, state.device)  # under torchrun: DDP, which averages the gradients
    eval_batch = control_batch(eval_batch, config.mel_control)
    hooks.begin(state, train_data)
    stop = min(config.steps, until or config.steps)
    model.train()
    with _progress_bar(progress and distributed.is_main(), state) as bar:
        while state.step < stop and not state.stopped:
            batch = control_batch(random_crops(train_data, config.context, config.batch_size, state.generator),
                                  config.mel_control)  # fmt: skip
            tokens, mel = (tensor.to(state.device) for tensor in distributed.my_share(*batch))
            with autocast(state.device, state.precision):
                _, loss = forward(tokens[:, :-1], mel=mel[:, :-1], targets=tokens[:, 1:])
            batch_loss = distributed.mean_over_ranks(loss)  # the same on every rank: all stop together on a NaN
            if not math.isfinite(batch_loss):
                raise TrainingError(
                    f"{run.model} on {run.corpus}: the loss became {batch_loss} at step {state.step + 1}; training "
                    f"stopped and {hooks.kept(state)}. Check the features for NaN, or lower the learning rate"
                )
            lr = state.scheduler.get_last_lr()[0]
            update(loss, model, state.optimizer, state.scaler, config.grad_clip)
            state.scheduler.step()
            state.step += 1
            epoch = state.step / state.epoch_steps
            hooks.log({"kind": "train", "step": state.step, "epoch": epoch, "loss": batch_loss, "lr": lr})
            bar.update()
            val = f"{hooks.evaluations[-1]['nll']:.3f}" if hooks.evaluations else "-"
            bar.set_postfix(loss=f"{batch_loss:.3f}", val=val)
            end_of_epoch = state.step % state.epoch_steps == 0 or state.step == config.steps
            if end_of_epoch:
                scores = evaluate(compiled, eval_batch, config.eval_batch_size, state.device, state.precision)
                record = {"kind": "eval", "step": state.step, "epoch": epoch, "seed": config.seed,
                          "tokenizer": run.tokenizer, **scores, "seconds": state.seconds()}  # fmt: skip
                hooks.evaluated(state, record)
            if end_of_epoch or state.step == stop:
                hooks.save(state)
    distributed.barrier()  # the other ranks read what rank 0 wrote (the log, best.pt) only once it is there
    return hooks.result(state)


def _progress_bar(enabled: bool, state: TrainState):
    from tqdm.auto import tqdm  # lazy: tqdm.auto loads IPython when it is installed

    description = f"{state.run.model} on {state.run.corpus} ({state.run.tokenizer})"
    return tqdm(disable=not enabled, dynamic_ncols=True, initial=state.step, total=state.config.steps, desc=description)
