"""The paper's experiment, end to end: train, score and compare the three models.

``reproduce`` trains GPT-S, GPT-L and the hybrid on each corpus with the same data and
budget (same steps or stopping rule, batch, context, training crops and evaluation crops),
with ``seeds`` seeds each, then writes into ``<out>/`` (default ``results_dir(preset,
tokenizer)``: ``results/<preset>-<tokenizer>``, so runs with EnCodec and melvq tokens never
share a folder):

- ``<corpus>/<model>/`` (seed 0) and ``<corpus>/<model>-seed<k>/``: ``metrics.jsonl``,
  ``checkpoint.pt`` and, with early stopping, ``best.pt`` (see ``wgpt_lite.train``);
- ``results.md``: the table laid out like the paper's Tables 1-2 (validation beside test,
  mean ± sd over seeds, the two baselines of ``wgpt_lite.experiment.baselines``), paper numbers beside
  ours; the differences hybrid − GPT-S, hybrid − GPT-L and GPT-L − GPT-S paired by seed with
  95% intervals and a verdict per corpus; the mel controls (``wgpt_lite.experiment.controls``); and what
  the numbers were made from (short fingerprints of each corpus's content and tokens, the code);
- ``results.json``: the same, for notebooks, with the fingerprints in full;
- ``curves.png``: validation loss per epoch, one panel per corpus, a line per seed (the
  paper's loss curves); ``mel_gain.png``: hybrid − GPT-S NLL per context position.

Run it again and it picks up where it stopped: finished models are only re-scored,
half-trained ones resume from their checkpoint, both only when the checkpoint's recorded
provenance matches today's corpus and tokens (a corpus rebuilt with other audio refits
melvq: its old checkpoints are refused in one line, never scored on the new tokens).

    python -m wgpt_lite reproduce --preset mini             # mini-speech + mini-music on 2 CPU cores
    python -m wgpt_lite reproduce --preset mini --seeds 3   # with intervals (docs/results.md)
    python -m wgpt_lite reproduce --preset paper            # librispeech + maestro, on a GPU

From Python, ``reproduce("mini", ["mini-speech", "mini-music"])`` does the same and
returns the table's rows; ``train_model`` is one model on one corpus.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from wgpt_lite.batches import MEL_CONTROLS, control_batch, eval_crops
from wgpt_lite.data.corpora import corpus_spec
from wgpt_lite.data.feature_cache import corpus_tokenizer, features
from wgpt_lite.data.provenance import data_provenance
from wgpt_lite.display.plots import plot_curves, plot_mel_gain
from wgpt_lite.experiment.baselines import BASELINES, fit_baseline, score_baseline
from wgpt_lite.experiment.controls import position_nll
from wgpt_lite.experiment.results import (
    differences_table,
    load_runs,
    paired_differences,
    provenance_lines,
    results_table,
    run_folder,
    verdict_basis,
    verdict_lines,
    verdict_rule,
)
from wgpt_lite.experiment.stats import token_streams
from wgpt_lite.infra import distributed
from wgpt_lite.infra.atomic import writable_folder, write_text
from wgpt_lite.infra.code_version import code_version
from wgpt_lite.infra.device import pick_device, pick_precision
from wgpt_lite.infra.files import write_json
from wgpt_lite.infra.settings import home_dir, results_root
from wgpt_lite.presets import MODELS, Preset, build_model, get_preset, train_config
from wgpt_lite.runs.checkpoint import load_with_tokenizer, model_from_checkpoint, scored_weights
from wgpt_lite.runs.run_folder import METRICS, read_metrics, train_in_folder
from wgpt_lite.tokenizers import auto_tokenizer
from wgpt_lite.train import RunInfo, TrainConfig, evaluate


def results_dir(preset: str, tokenizer="auto") -> Path:
    """Default output folder of a run: ``<results_root()>/<preset>-<tokenizer>``.

    ``tokenizer`` is a name or a tokenizer object; ``"auto"`` is resolved here (EnCodec
    when its weights load, else the kit's codec), so the folder always names the tokens it holds.

    >>> results_dir("mini", "melvq").name
    'mini-melvq'
    """
    name = tokenizer_name(tokenizer)
    return results_root() / f"{preset}-{name}"


def tokenizer_name(tokenizer) -> str:
    """``"encodec"``, ``"codec"`` or ``"melvq"``: a tokenizer's name, ``"auto"`` decided as ``get_tokenizer`` decides it
    (``auto_tokenizer``: no model is built for it)."""
    if not isinstance(tokenizer, str):
        return tokenizer.name
    return auto_tokenizer() if tokenizer == "auto" else tokenizer


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

    def baseline_rows(self) -> list[dict]:
        """The repeat and bigram baselines, fitted on the training split, scored on the models' crops."""
        streams = token_streams(self.train)
        rows = []
        for name in BASELINES:
            table = fit_baseline(name, streams, self.tokenizer.vocab_size)
            rows.append(
                {
                    "corpus": self.corpus,
                    "model": name,
                    "tokenizer": self.tokenizer.name,
                    "params": 0,
                    "split": self.table_split,
                    **score_baseline(table, self.test),
                    "validation_nll": score_baseline(table, self.validation)["nll"],
                }
            )
        return rows


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
    preset: str | Preset,
    config: TrainConfig,
    out: Path,
    *,
    resume: bool = True,
    device: str | None = None,
    progress: bool = True,
    on_eval=None,
    run_dir: Path | None = None,
    **model_overrides,
) -> dict:
    """Train (or resume, or just re-score) one model on one corpus; return its table row.

    ``config.seed`` chooses the initial weights and the training crops (never the scoring
    crops); the run folder is ``run_folder(out, corpus, name, seed)`` unless ``run_dir`` says
    otherwise. ``model_overrides``: ``ModelConfig`` fields that differ from the preset (a sweep's variants).
    """
    torch.manual_seed(config.seed)  # the same initial weights on every machine
    model = build_model(name, preset, vocab_size=data.tokenizer.vocab_size, **model_overrides)
    run = RunInfo(model=name, preset=get_preset(preset).name, corpus=data.corpus, tokenizer=data.tokenizer.name)
    run_dir = writable_folder(run_dir or run_folder(out, data.corpus, name, config.seed), "run folder")
    final = train_in_folder(
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
    test = control_batch(data.test, config.mel_control)  # a control is scored as it was trained
    scores = evaluate(model, test, config.eval_batch_size, precision=pick_precision(pick_device(device)))
    return {
        "corpus": data.corpus,
        "model": name,
        "tokenizer": run.tokenizer,
        "params": model.num_params(),
        "split": data.table_split,
        "seed": config.seed,
        **scores,
        "validation_nll": final["nll"],
        "validation_acc": final["acc"],
        "step": final["step"],  # the step scored: the best one with early stopping, else the last
        "steps": config.steps,
        "train_seconds": read_metrics(run_dir / METRICS, "eval")[-1]["seconds"],
        "weights": str(scored_weights(run_dir)),
    }


def reproduce(
    preset: str | Preset,
    corpora: list[str],
    tokenizer: str = "auto",
    out: str | Path | None = None,
    models: tuple[str, ...] = MODELS,
    seeds: int = 1,
    device: str | None = None,
    progress: bool = True,
    on_eval=None,
    **budget,
) -> list[dict]:
    """Train ``models`` on each corpus with one budget and ``seeds`` seeds; write the tables, curves and
    logs; return the rows (one per model and seed, and the baselines').

    ``budget`` overrides the preset's ``TrainConfig`` fields (e.g. ``steps=100``,
    ``patience=0`` for no early stopping). ``on_eval(run, record)`` is called after every evaluation (e.g.
    ``plots.LiveCurves``), and once with each finished model's evaluations when it is only re-scored.

    >>> import tempfile
    >>> rows = reproduce("smoke", ["sample-music"], tokenizer="melvq", out=tempfile.mkdtemp(), progress=False)
    >>> [(row["model"], row.get("seed")) for row in rows], {row["split"] for row in rows}
    ([('repeat', None), ('bigram', None), ('gpt-s', 0), ('gpt-l', 0), ('hybrid', 0)], {'validation'})
    """
    preset = get_preset(preset)  # resolved once, handed down as an object
    config = train_config(preset, **budget)
    tokenizer = tokenizer_name(tokenizer)  # "auto" decided once, for every corpus and the folder's name
    # corpora and features are written there; first, so that a home refused leaves no results folder behind
    writable_folder(home_dir(), "cache folder (WGPT_HOME)", fix="set WGPT_HOME to another folder")
    out = writable_folder(out or results_dir(preset.name, tokenizer), "results folder")
    started = time.perf_counter()
    rows, made_from, controls = [], {}, {}
    for corpus in corpora:
        data = distributed.first_on_rank_zero(CorpusData, corpus, tokenizer, config)  # the others read its cache
        made_from[corpus] = data.provenance
        rows += data.baseline_rows()
        trained = [
            train_model(
                name, data, preset, replace(config, seed=seed), out, device=device, progress=progress, on_eval=on_eval
            )
            for seed in range(seeds)
            for name in models
        ]
        rows += trained
        if "hybrid" in models:
            controls[corpus] = score_controls(data, trained, config)
    if distributed.is_main():  # under torchrun, rank 0 alone writes the results
        write_results(
            out, preset.name, tokenizer, seeds, config, rows, made_from, controls, time.perf_counter() - started
        )
    return rows


def write_results(
    out: Path,
    preset: str,
    tokenizer: str,
    seeds: int,
    config: TrainConfig,
    rows: list[dict],
    made_from: dict,
    controls: dict,
    seconds: float,
) -> None:
    """A reproduction's results into ``out``: results.md (the table, differences, verdicts, controls,
    provenance), results.json (the same, whole), curves.png and mel_gain.png."""
    differences = paired_differences(rows)
    write_text(
        out / "results.md",
        f"# Whisper-GPT lite, preset `{preset}`, {tokenizer} tokens\n\n{results_table(rows)}\n"
        f"{budget_sentence(config, seeds)}\n\n"
        "## Differences, paired by seed (negative: the first model is better)\n\n"
        f"{differences_table(differences)}\nVerdict on the paper's claim ({verdict_basis(differences)}):\n\n"
        f"{verdict_lines(differences, tokenizer)}\n{verdict_rule()}\n"
        "## Controls: the hybrid scored with its mel replaced (test NLL, mean over seeds)\n\n"
        f"{controls_table(controls)}\n{provenance_lines(made_from, code_version())}",
    )
    write_json(
        out / "results.json",
        {
            "preset": preset,
            "tokenizer": tokenizer,
            "seeds": seeds,
            "train_config": asdict(config),
            "provenance": made_from,
            "code": code_version(),
            "rows": rows,
            "differences": differences,
            "controls": controls,
            "seconds": round(seconds, 1),
        },
        indent=1,
    )
    runs = load_runs(out)
    plot_curves({corpus: runs[corpus] for corpus in made_from}, out / "curves.png")
    if controls:
        plot_mel_gain(controls, out / "mel_gain.png")


def budget_sentence(config: TrainConfig, seeds: int) -> str:
    """The budget every model got, in one sentence for a results page."""
    stopping = (
        f"at most {config.steps} steps, stopped after {config.patience} evaluations without a better validation NLL "
        "(the best weights are scored)"
        if config.patience
        else f"{config.steps} steps"
    )
    return (
        f"Same budget for every model and seed ({seeds} seed{'s' if seeds > 1 else ''}: initial weights and training "
        f"crops): {stopping}, of {config.batch_size} crops x {config.context} frames; NLL in nats/token on "
        f"{config.eval_crops} fixed crops of each split (the same for every seed); curves: validation, per epoch."
    )


def score_controls(data: CorpusData, trained: list[dict], config: TrainConfig) -> dict:
    """The trained hybrids of ``trained`` scored on the test crops with each of ``MEL_CONTROLS``, and the
    NLL per context position of each hybrid and GPT-S ("what the mel adds"); means over seeds."""

    def load(row):
        return model_from_checkpoint(row["weights"], made_from=data.provenance)[0]

    hybrids = [row for row in trained if row["model"] == "hybrid"]
    nll = {control: [] for control in MEL_CONTROLS}
    positions = {"hybrid": [], "gpt-s": []}
    for row in hybrids:
        model = load(row)
        for control in MEL_CONTROLS:
            nll[control].append(evaluate(model, control_batch(data.test, control), config.eval_batch_size)["nll"])
        positions["hybrid"].append(position_nll(model, data.test, config.eval_batch_size))
    for row in trained:
        if row["model"] == "gpt-s":
            positions["gpt-s"].append(position_nll(load(row), data.test, config.eval_batch_size))
    return {
        "seeds": len(hybrids),
        "nll": {control: sum(values) / len(values) for control, values in nll.items()},
        "position_nll": {name: (sum(curves) / len(curves)).tolist() for name, curves in positions.items() if curves},
    }


def controls_table(controls: dict[str, dict]) -> str:
    """Markdown: per corpus, the hybrid's test NLL with each mel control, and the change from the true mel.

    The columns are the controls every corpus was scored with: results written before a control
    joined ``MEL_CONTROLS`` (``lagged``) are shown as they were made."""
    if not controls:
        return "(no hybrid trained)\n"
    scored = [c for c in MEL_CONTROLS if all(c in scores["nll"] for scores in controls.values())]
    lines = ["| data | " + " | ".join(scored) + " |", "|---|" + "---:|" * len(scored)]
    for corpus, scores in controls.items():
        true = scores["nll"]["true"]
        cells = [f"{true:.3f}"] + [f"{scores['nll'][c]:.3f} ({scores['nll'][c] - true:+.3f})" for c in scored[1:]]
        lines.append(f"| {corpus} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def score_checkpoint(
    checkpoint_path: str | os.PathLike, split: str | None = None, n_crops: int | None = None, device: str | None = None
) -> dict:
    """Score a trained checkpoint on fixed, seeded crops of a split of its corpus; return a table row.

    ``split`` defaults to the one the table scores; ``n_crops`` to the run's own number. A
    checkpoint trained on another content of its corpus or on other tokens (a refitted melvq
    codebook, other EnCodec weights) is refused in one line (``CheckpointError``).
    """
    checkpoint, tok, model = load_with_tokenizer(checkpoint_path)
    run, config = checkpoint["run"], TrainConfig(**checkpoint["train_config"])
    split = split or table_split(run["corpus"])
    crops = scoring_crops(run["corpus"], split, tok, config, n_crops)
    device = pick_device(device)
    scores = evaluate(model.to(device), crops, config.eval_batch_size, device, pick_precision(device))
    return {**run, **scores, "params": model.num_params(), "split": split}


def scores_line(row: dict) -> str:
    """One table row as a line of text (a model's, with its seed after the first; or a baseline's)."""
    size = f"{row['params'] / 1e6:.2f}M" if row["params"] else "baseline"
    seed = f" seed {row['seed']}" if row.get("seed") else ""
    return (
        f"{row['corpus']} {row['model']}{seed} ({size}, {row['tokenizer']} tokens, {row['split']}): "
        f"NLL {row['nll']:.3f} nats/token, PPL {row['ppl']:.2f}, acc {row['acc']:.2%}"
    )
