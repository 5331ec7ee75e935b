"""Commands ``train``, ``evaluate`` and ``reproduce``: the paper's experiment, end to end.

``reproduce`` trains GPT-S, GPT-L and the hybrid on each corpus with the same data and
budget (same steps, batch, context, training crops and evaluation crops), then writes
into ``<out>/``:

- ``<corpus>/<model>/metrics.jsonl`` and ``checkpoint.pt`` (see ``wgpt_lite.train``);
- ``results.md``: the table laid out like the paper's Tables 1-2, paper numbers beside ours;
- ``results.json``: the same rows, for notebooks;
- ``curves.png``: validation loss per epoch, one panel per corpus (the paper's Figs. 2-3).

Run it again and it picks up where it stopped: finished models are only re-scored,
half-trained ones resume from their checkpoint.

    python -m wgpt_lite reproduce --preset mini      # mini-speech + mini-music, ~15 min on 2 CPU cores
    python -m wgpt_lite reproduce --preset paper     # librispeech + maestro, on a GPU
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from wgpt_lite.errors import DataError, ModelError
from wgpt_lite.model import MODELS, PRESETS, build_model
from wgpt_lite.settings import REPO_ROOT, default_preset
from wgpt_lite.train import (CHECKPOINT, RunInfo, TrainConfig, evaluate, model_from_checkpoint, pick_device,
                             pick_precision, train, train_config)

# `smoke` uses the committed samples: seconds, no corpus to build (tests and notebook CI).
DEFAULT_CORPORA = {"paper": "librispeech,maestro", "mini": "mini-speech,mini-music", "smoke": "sample-speech,sample-music"}


def preset_corpora(preset: str) -> list[str]:
    """The (speech, music) corpora a preset reproduces on by default."""
    return DEFAULT_CORPORA[preset].split(",")


def results_dir(preset: str) -> Path:
    """Default output folder of a preset: ``results/<preset>`` at the top of the clone (or the cwd)."""
    root = REPO_ROOT if (REPO_ROOT / "pyproject.toml").exists() else Path.cwd()
    return root / "results" / preset


class CorpusData:
    """One corpus as every model of a reproduction sees it: tokenizer, training split, fixed crops."""

    def __init__(self, corpus: str, tokenizer: str, config: TrainConfig):
        from wgpt_lite.batches import eval_crops
        from wgpt_lite.feature_cache import corpus_tokenizer, features

        self.corpus = corpus
        self.tokenizer = corpus_tokenizer(corpus, tokenizer)
        self.train = features(corpus, "train", self.tokenizer)
        # Seed 0 for all: every model is scored on the very same frames.
        self.validation = eval_crops(features(corpus, "validation", self.tokenizer), config.context, config.eval_crops, seed=0)
        self.table_split = table_split(corpus)
        self.test = eval_crops(features(corpus, self.table_split, self.tokenizer), config.context, config.eval_crops, seed=0)


def table_split(corpus: str) -> str:
    """The split the table scores: ``test``, or ``validation`` for corpora without one (the samples)."""
    from wgpt_lite.corpora import corpus_spec

    return "test" if "test" in corpus_spec(corpus).splits else "validation"


def train_model(name: str, data: CorpusData, preset: str, config: TrainConfig, out: Path, *, resume: bool = True,
                device: str | None = None, progress: bool = True, on_eval=None) -> dict:
    """Train (or resume, or just re-score) one model on one corpus; return its table row."""
    torch.manual_seed(config.seed)  # the same initial weights on every machine
    model = build_model(name, preset, vocab_size=data.tokenizer.vocab_size)
    run = RunInfo(model=name, preset=preset, corpus=data.corpus, tokenizer=data.tokenizer.name)
    run_dir = out / data.corpus / name
    final = train(model, data.train, data.validation, config, run_dir, run, resume=resume, device=device, progress=progress,
                  on_eval=on_eval)
    scores = evaluate(model, data.test, config.eval_batch_size, precision=pick_precision(pick_device(device)))
    return {"corpus": data.corpus, "model": name, "tokenizer": run.tokenizer, "params": model.num_params(),
            "split": data.table_split, **scores, "validation_nll": final["nll"], "steps": config.steps, "train_seconds": final["seconds"]}


def reproduce(preset: str, corpora: list[str], tokenizer: str = "auto", out: str | Path | None = None,
              models: tuple[str, ...] = MODELS, device: str | None = None, progress: bool = True, on_eval=None,
              **budget) -> list[dict]:
    """Train ``models`` on each corpus with one budget; write the table, curves and logs; return the rows.

    ``budget`` overrides the preset's ``TrainConfig`` fields (e.g. ``steps=100``).
    ``on_eval(run, record)`` is called after every evaluation (e.g. ``plots.LiveCurves``),
    and once with each finished model's last evaluation when it is only re-scored.

    >>> rows = reproduce("mini", ["mini-speech", "mini-music"], out="results/mini")
    """
    from wgpt_lite.results import load_runs, plot_curves, results_table

    config = train_config(preset, **budget)
    out = Path(out) if out else results_dir(preset)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = []
    for corpus in corpora:
        data = CorpusData(corpus, tokenizer, config)
        rows += [train_model(name, data, preset, config, out, device=device, progress=progress, on_eval=on_eval)
                 for name in models]
    table = results_table(rows)
    (out / "results.md").write_text(
        f"# Whisper-GPT lite, preset `{preset}`\n\n{table}\n"
        f"Same budget for every model: {config.steps} steps of {config.batch_size} crops x {config.context} frames; "
        f"NLL in nats/token on {config.eval_crops} fixed crops of each corpus's held-out split; curves: validation, "
        f"per epoch.\n")
    (out / "results.json").write_text(json.dumps({"preset": preset, "train_config": asdict(config), "rows": rows,
                                                  "seconds": round(time.perf_counter() - started, 1)}, indent=1) + "\n")
    runs = load_runs(out)
    plot_curves({corpus: runs[corpus] for corpus in corpora}, out / "curves.png")
    return rows


# ---------------------------------------------------------------------------
# Command line


def _names(text: str, valid: tuple[str, ...], what: str, error: type[Exception]) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        raise error(f"unknown {what} {', '.join(unknown) or repr(text)}; choose from {', '.join(valid)}")
    return names


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=PRESETS, default=None,
                        help="model sizes and training budget: paper (the paper's 3.7M/40M/4M models, a GPU), "
                             "mini (scaled down for 2 CPU cores, minutes), smoke (seconds). "
                             "Default: $WGPT_PRESET, else paper on a GPU and mini otherwise")
    parser.add_argument("--tokenizer", default="auto", choices=("auto", "encodec", "melvq"),
                        help="audio tokens: encodec (the paper's), melvq (offline k-means stand-in, not the paper's "
                             "numbers), auto (encodec when its weights load, else melvq). Default: auto")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's number of training steps")
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--compile", action="store_true", default=None, help="torch.compile the models (CUDA)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def add_commands(subparsers) -> None:
    from wgpt_lite.corpora import CORPORA

    train_parser = subparsers.add_parser(
        "train", help="train one model on one corpus (resumable)",
        description="Train one model on one corpus. Writes OUT/CORPUS/MODEL/metrics.jsonl and checkpoint.pt; "
                    "--resume continues an interrupted run on the same curve.")
    train_parser.add_argument("--model", required=True, choices=MODELS, help="which model")
    train_parser.add_argument("--corpus", required=True, choices=CORPORA, help="which corpus (built on first use)")
    train_parser.add_argument("--out", default=None, help="results folder (default: results/PRESET)")
    train_parser.add_argument("--resume", action="store_true", help="continue from OUT/CORPUS/MODEL/checkpoint.pt")
    _add_common(train_parser)
    train_parser.set_defaults(func=_cmd_train)

    evaluate_parser = subparsers.add_parser(
        "evaluate", help="score a checkpoint: NLL (nats/token), PPL and top-1 accuracy",
        description="Score a trained checkpoint on fixed, seeded crops of a split of its corpus.")
    evaluate_parser.add_argument("checkpoint", help=f"a {CHECKPOINT} written by train or reproduce")
    evaluate_parser.add_argument("--split", default=None, help="split to score (default: test, or validation "
                                                                 "for corpora without a test split)")
    evaluate_parser.add_argument("--crops", type=int, default=None, help="number of crops (default: the preset's)")
    evaluate_parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    evaluate_parser.set_defaults(func=_cmd_evaluate)

    reproduce_parser = subparsers.add_parser(
        "reproduce", help="the paper's experiment: three models per corpus, one budget, table + curves",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    reproduce_parser.add_argument("--corpus", default=None,
                                  help=f"comma-separated corpora, from {', '.join(CORPORA)} (default: "
                                       "librispeech,maestro for paper, mini-speech,mini-music for mini, "
                                       "the committed samples for smoke)")
    reproduce_parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models (default: %(default)s)")
    reproduce_parser.add_argument("--out", default=None, help="results folder (default: results/PRESET)")
    _add_common(reproduce_parser)
    reproduce_parser.set_defaults(func=_cmd_reproduce)


def _budget(args) -> dict:
    return {"steps": args.steps, "compile": args.compile}


def _cmd_train(args) -> int:
    preset = args.preset or default_preset()
    config = train_config(preset, **_budget(args))
    out = Path(args.out) if args.out else results_dir(preset)
    row = train_model(args.model, CorpusData(args.corpus, args.tokenizer, config), preset, config, out,
                      resume=args.resume, device=args.device, progress=args.progress)
    print(_scores_line(row))
    return 0


def _cmd_evaluate(args) -> int:
    from wgpt_lite.batches import eval_crops
    from wgpt_lite.feature_cache import corpus_tokenizer, features

    model, checkpoint = model_from_checkpoint(args.checkpoint)
    run, config = checkpoint["run"], TrainConfig(**checkpoint["train_config"])
    tok = corpus_tokenizer(run["corpus"], run["tokenizer"])
    split = args.split or table_split(run["corpus"])
    crops = eval_crops(features(run["corpus"], split, tok), config.context, args.crops or config.eval_crops, seed=0)
    device = pick_device(args.device)
    scores = evaluate(model.to(device), crops, config.eval_batch_size, device, pick_precision(device))
    print(_scores_line({**run, **scores, "params": model.num_params(), "split": split}))
    return 0


def _cmd_reproduce(args) -> int:
    from wgpt_lite.corpora import CORPORA

    preset = args.preset or default_preset()
    corpora = _names(args.corpus or ",".join(preset_corpora(preset)), CORPORA, "corpus", DataError)
    models = tuple(_names(args.models, MODELS, "model", ModelError))
    out = Path(args.out) if args.out else results_dir(preset)
    rows = reproduce(preset, corpora, args.tokenizer, out, models, args.device, args.progress, **_budget(args))
    for row in rows:
        print(_scores_line(row))
    print(f"wrote {out / 'results.md'}, {out / 'curves.png'} and the logs under {out}/")
    return 0


def _scores_line(row: dict) -> str:
    return (f"{row['corpus']} {row['model']} ({row['params'] / 1e6:.2f}M, {row['tokenizer']} tokens, {row['split']}): "
            f"NLL {row['nll']:.3f} nats/token, PPL {row['ppl']:.2f}, acc {row['acc']:.2%}")
