"""The paper's experiment, end to end: train, score and compare the three models.

``reproduce`` trains GPT-S, GPT-L and the hybrid on each corpus with the same data and
budget (same steps, batch, context, training crops and evaluation crops), then writes
into ``<out>/`` (default ``results_dir(preset, tokenizer)``: ``results/<preset>-<tokenizer>``,
so runs with EnCodec and melvq tokens never share a folder):

- ``<corpus>/<model>/metrics.jsonl`` and ``checkpoint.pt`` (see ``wgpt_lite.train``);
- ``results.md``: the table laid out like the paper's Tables 1-2, paper numbers beside ours,
  and what the numbers were made from (short fingerprints of each corpus's content and
  tokens, the code version);
- ``results.json``: the same rows, for notebooks, with the fingerprints in full
  (``provenance`` per corpus, ``code``);
- ``curves.png``: validation loss per epoch, one panel per corpus (the paper's Figs. 2-3).

Run it again and it picks up where it stopped: finished models are only re-scored,
half-trained ones resume from their checkpoint, both only when the checkpoint's recorded
provenance matches today's corpus and tokens (a corpus rebuilt with other audio refits
melvq: its old checkpoints are refused in one line, never scored on the new tokens).

    python -m wgpt_lite reproduce --preset mini      # mini-speech + mini-music, ~6 min on 2 CPU cores
    python -m wgpt_lite reproduce --preset paper     # librispeech + maestro, on a GPU

From Python, ``reproduce("mini", ["mini-speech", "mini-music"])`` does the same and
returns the table's rows; ``train_model`` is one model on one corpus.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch

from wgpt_lite.atomic import writable_folder, write_text
from wgpt_lite.batches import eval_crops
from wgpt_lite.corpora import corpus_spec
from wgpt_lite.device import pick_device, pick_precision
from wgpt_lite.feature_cache import code_version, corpus_tokenizer, data_provenance, features, provenance
from wgpt_lite.presets import MODELS, build_model, train_config
from wgpt_lite.results import load_runs, plot_curves, provenance_lines, results_table
from wgpt_lite.settings import home_dir, results_root
from wgpt_lite.tokenizers import get_tokenizer
from wgpt_lite.train import RunInfo, TrainConfig, check_provenance, evaluate, load_checkpoint, rebuild_model, train


def results_dir(preset: str, tokenizer="auto") -> Path:
    """Default output folder of a run: ``<results_root()>/<preset>-<tokenizer>``.

    ``tokenizer`` is a name or a tokenizer object; ``"auto"`` is resolved here (EnCodec
    when its weights load, else melvq), so the folder always names the tokens it holds.

    >>> results_dir("mini", "melvq").name
    'mini-melvq'
    """
    name = tokenizer_name(tokenizer)
    return results_root() / f"{preset}-{name}"


def tokenizer_name(tokenizer) -> str:
    """``"encodec"`` or ``"melvq"``: a tokenizer's name, ``"auto"`` resolved the way ``get_tokenizer`` does."""
    if not isinstance(tokenizer, str):
        return tokenizer.name
    return get_tokenizer(tokenizer).name if tokenizer == "auto" else tokenizer


class CorpusData:
    """One corpus as every model of a reproduction sees it: tokenizer, training split, fixed crops,
    and their ``provenance`` (the fingerprints of the corpus's content and of the tokens)."""

    def __init__(self, corpus: str, tokenizer: str, config: TrainConfig):
        self.corpus = corpus
        self.tokenizer = corpus_tokenizer(corpus, tokenizer)
        self.train = features(corpus, "train", self.tokenizer)  # lists the clips its cache skipped
        self.provenance = data_provenance(self.train)
        self.validation = scoring_crops(corpus, "validation", self.tokenizer, config)
        self.table_split = table_split(corpus)
        self.test = scoring_crops(corpus, self.table_split, self.tokenizer, config)


def scoring_crops(corpus: str, split: str, tokenizer, config: TrainConfig, n_crops: int | None = None):
    """The fixed crops a split is scored on (``n_crops``, default the budget's): seed 0 for all,
    so every model, in training and in ``score_checkpoint``, is scored on the very same frames."""
    return eval_crops(features(corpus, split, tokenizer), config.context, n_crops or config.eval_crops, seed=0)


def table_split(corpus: str) -> str:
    """The split the table scores: ``test``, or ``validation`` for corpora without one (the samples)."""
    return "test" if "test" in corpus_spec(corpus).splits else "validation"


def train_model(
    name: str,
    data: CorpusData,
    preset: str,
    config: TrainConfig,
    out: Path,
    *,
    resume: bool = True,
    device: str | None = None,
    progress: bool = True,
    on_eval=None,
) -> dict:
    """Train (or resume, or just re-score) one model on one corpus; return its table row."""
    torch.manual_seed(config.seed)  # the same initial weights on every machine
    model = build_model(name, preset, vocab_size=data.tokenizer.vocab_size)
    run = RunInfo(model=name, preset=preset, corpus=data.corpus, tokenizer=data.tokenizer.name)
    run_dir = writable_folder(Path(out) / data.corpus / name, "run folder")
    final = train(
        model,
        data.train,
        data.validation,
        config,
        run_dir,
        run,
        resume=resume,
        device=device,
        progress=progress,
        on_eval=on_eval,
    )
    scores = evaluate(model, data.test, config.eval_batch_size, precision=pick_precision(pick_device(device)))
    return {
        "corpus": data.corpus,
        "model": name,
        "tokenizer": run.tokenizer,
        "params": model.num_params(),
        "split": data.table_split,
        **scores,
        "validation_nll": final["nll"],
        "steps": config.steps,
        "train_seconds": final["seconds"],
    }


def reproduce(
    preset: str,
    corpora: list[str],
    tokenizer: str = "auto",
    out: str | Path | None = None,
    models: tuple[str, ...] = MODELS,
    device: str | None = None,
    progress: bool = True,
    on_eval=None,
    **budget,
) -> list[dict]:
    """Train ``models`` on each corpus with one budget; write the table, curves and logs; return the rows.

    ``budget`` overrides the preset's ``TrainConfig`` fields (e.g. ``steps=100``).
    ``on_eval(run, record)`` is called after every evaluation (e.g. ``plots.LiveCurves``),
    and once with each finished model's last evaluation when it is only re-scored.

    >>> import tempfile
    >>> rows = reproduce("smoke", ["sample-music"], tokenizer="melvq", out=tempfile.mkdtemp(), progress=False)
    >>> [(row["model"], row["split"], row["steps"]) for row in rows]
    [('gpt-s', 'validation', 20), ('gpt-l', 'validation', 20), ('hybrid', 'validation', 20)]
    """
    config = train_config(preset, **budget)
    tokenizer = tokenizer_name(tokenizer)  # "auto" decided once, for every corpus and the folder's name
    out = writable_folder(out or results_dir(preset, tokenizer), "results folder")
    writable_folder(home_dir(), "cache folder (WGPT_HOME)")  # corpora and features are written there
    started = time.perf_counter()
    rows, made_from = [], {}
    for corpus in corpora:
        data = CorpusData(corpus, tokenizer, config)
        made_from[corpus] = data.provenance
        rows += [
            train_model(name, data, preset, config, out, device=device, progress=progress, on_eval=on_eval)
            for name in models
        ]
    table = results_table(rows)
    write_text(
        out / "results.md",
        f"# Whisper-GPT lite, preset `{preset}`, {tokenizer} tokens\n\n{table}\n"
        f"Same budget for every model: {config.steps} steps of {config.batch_size} crops x {config.context} frames; "
        f"NLL in nats/token on {config.eval_crops} fixed crops of each corpus's held-out split; curves: validation, "
        f"per epoch.\n\n{provenance_lines(made_from, code_version())}",
    )
    write_text(
        out / "results.json",
        json.dumps(
            {
                "preset": preset,
                "tokenizer": tokenizer,
                "train_config": asdict(config),
                "provenance": made_from,
                "code": code_version(),
                "rows": rows,
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=1,
        )
        + "\n",
    )
    runs = load_runs(out)
    plot_curves({corpus: runs[corpus] for corpus in corpora}, out / "curves.png")
    return rows


def score_checkpoint(
    checkpoint_path: str | os.PathLike, split: str | None = None, n_crops: int | None = None, device: str | None = None
) -> dict:
    """Score a trained checkpoint on fixed, seeded crops of a split of its corpus; return a table row.

    ``split`` defaults to the one the table scores; ``n_crops`` to the run's own number. A
    checkpoint trained on another content of its corpus or on other tokens (a refitted melvq
    codebook, other EnCodec weights) is refused in one line (``CheckpointError``).
    """
    checkpoint = load_checkpoint(checkpoint_path)
    run, config = checkpoint["run"], TrainConfig(**checkpoint["train_config"])
    tok = corpus_tokenizer(run["corpus"], run["tokenizer"])
    check_provenance(checkpoint, provenance(run["corpus"], tok), checkpoint_path)
    model = rebuild_model(checkpoint, Path(checkpoint_path))
    split = split or table_split(run["corpus"])
    crops = scoring_crops(run["corpus"], split, tok, config, n_crops)
    device = pick_device(device)
    scores = evaluate(model.to(device), crops, config.eval_batch_size, device, pick_precision(device))
    return {**run, **scores, "params": model.num_params(), "split": split}


def scores_line(row: dict) -> str:
    """One table row as a line of text."""
    return (
        f"{row['corpus']} {row['model']} ({row['params'] / 1e6:.2f}M, {row['tokenizer']} tokens, {row['split']}): "
        f"NLL {row['nll']:.3f} nats/token, PPL {row['ppl']:.2f}, acc {row['acc']:.2%}"
    )
