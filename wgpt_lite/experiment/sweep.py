"""Ablations the paper leaves open: vary one thing about the hybrid at a time, with seeds.

The paper fixes one hybrid (96 of 256 channels for the mel, 2 mel blocks, fusion by
concatenation, 6.8 s of context) and never says which of these matter. ``sweep`` trains the
preset's hybrid (the *base*, the same run folders ``reproduce`` uses, so a finished
reproduction is only re-scored) and one variant per value, each changing one setting:

- model settings (``ModelConfig``): ``d_mel`` (the mel's share of the width), ``n_mel_layer``
  (mel blocks), ``fusion`` (``concat``, the paper's, or ``sum``);
- training settings (``TrainConfig``): ``context`` (frames per crop; the model's positions
  follow), ``mel_control`` (train on a control's mel, ``wgpt_lite.experiment.controls``: ``zeros`` shows
  what the hybrid is without its mel, ``ahead`` what a leak looks like, ``lagged`` what it keeps
  with no mel window overlapping the next token's).

Every variant gets the preset's budget and the base's seeds; the table pairs each variant
with the base hybrid seed by seed ("variant − base", negative: the variant is better) and
shows GPT-S's NLL beside it. A ``context`` variant is scored on crops of its own length.

    python -m wgpt_lite sweep --preset mini --corpus mini-music --seeds 3 \\
        --vary d_mel=16,48 --vary n_mel_layer=1 --vary fusion=sum --vary context=64,256 --vary mel_control=zeros

writes ``<out>/sweep-<corpus>.md``, ``.json`` and ``.png`` beside the reproduction's results.
"""

from __future__ import annotations

import time
from dataclasses import asdict, fields, replace
from pathlib import Path

from wgpt_lite.batches import check_control
from wgpt_lite.display.plots import finish_figure
from wgpt_lite.experiment.reproduce import CorpusData, results_dir, scoring_crops, tokenizer_name, train_model
from wgpt_lite.experiment.results import interval_text, with_sd
from wgpt_lite.experiment.stats import mean_interval
from wgpt_lite.infra.atomic import writable_folder, write_text
from wgpt_lite.infra.code_version import code_version
from wgpt_lite.infra.errors import DataError, ModelError, TrainingError
from wgpt_lite.infra.files import write_json
from wgpt_lite.model import ModelConfig
from wgpt_lite.presets import build_model, train_config
from wgpt_lite.train import TrainConfig

MODEL_SETTINGS = ("d_mel", "n_mel_layer", "n_mel_head", "fusion")
TRAIN_SETTINGS = ("context", "mel_control")
SETTINGS = MODEL_SETTINGS + TRAIN_SETTINGS


def parse_variations(specs: list[str]) -> list[tuple[str, dict]]:
    """``["d_mel=16,48", "fusion=sum"]`` -> ``[("d_mel=16", {"d_mel": 16}), ("d_mel=48", ...), ("fusion=sum", ...)]``.

    >>> parse_variations(["d_mel=16,48", "fusion=sum"])
    [('d_mel=16', {'d_mel': 16}), ('d_mel=48', {'d_mel': 48}), ('fusion=sum', {'fusion': 'sum'})]
    """
    types = {f.name: f.type for f in fields(ModelConfig)} | {"context": "int", "mel_control": "str"}
    variations = []
    for spec in specs:
        name, _, values = spec.partition("=")
        name = name.strip()
        if name not in SETTINGS or not values.strip():
            raise TrainingError(f"--vary {spec!r}: write SETTING=V1,V2 with SETTING one of {', '.join(SETTINGS)}")
        least = 0 if name == "n_mel_layer" else 1  # no mel blocks: the mel enters through its projection alone
        for text in (v.strip() for v in values.split(",") if v.strip()):
            try:
                value = int(text) if types[name] == "int" else text
            except ValueError:
                value = None
            if types[name] == "int" and (value is None or value < least):
                raise TrainingError(f"--vary {spec!r}: {name} takes whole numbers of at least {least}, not {text!r}")
            if name == "mel_control":
                check_control(value)
            variations.append((f"{name}={value}", {name: value}))
    return variations


def sweep(
    preset: str,
    corpus: str,
    variations: list[tuple[str, dict]],
    seeds: int = 3,
    tokenizer: str = "auto",
    out: str | Path | None = None,
    device: str | None = None,
    progress: bool = True,
    **budget,
) -> list[dict]:
    """Train the base hybrid, GPT-S and every variation with ``seeds`` seeds on ``corpus``; write the
    table and figure; return one row per variant (``base`` first) with its seeds' scores pooled.

    Every variant is checked before anything trains (``check_hybrid``, ``check_crops``): a value
    it cannot take is one line naming its ``--vary`` option, and no folder is made.
    """
    config = train_config(preset, **budget)
    for label, change in variations:
        check_hybrid(preset, label, change)
    tokenizer = tokenizer_name(tokenizer)
    started = time.perf_counter()
    base_data = CorpusData(corpus, tokenizer, config)
    for label, change in variations:
        if "context" in change:
            check_crops(base_data, replace(config, context=change["context"]), label)
    out = writable_folder(out or results_dir(preset, tokenizer), "results folder")
    runs = {
        (variant, name, seed): train_model(
            name, base_data, preset, replace(config, seed=seed), out, device=device, progress=progress
        )
        for seed in range(seeds)
        for variant, name in (("base", "gpt-s"), ("base", "hybrid"))
    }
    for label, change in variations:
        variant_config = replace(config, **train_change(change))
        data = base_data if "context" not in change else CorpusData(corpus, tokenizer, variant_config)
        for seed in range(seeds):
            runs[label, "hybrid", seed] = train_model(
                "hybrid",
                data,
                preset,
                replace(variant_config, seed=seed),
                out,
                device=device,
                progress=progress,
                run_dir=out / corpus / "sweep" / label / f"seed{seed}",
                **model_change(change),
            )
    rows = sweep_rows(runs, ["base"] + [label for label, _ in variations], seeds)
    name = f"sweep-{corpus}"
    write_text(out / f"{name}.md", sweep_page(rows, corpus, preset, tokenizer, config, seeds))
    write_json(
        out / f"{name}.json",
        {
            "preset": preset,
            "corpus": corpus,
            "tokenizer": tokenizer,
            "seeds": seeds,
            "train_config": asdict(config),
            "code": code_version(),
            "rows": rows,
            "runs": [{"variant": v, **row} for (v, _, _), row in runs.items()],
            "seconds": round(time.perf_counter() - started, 1),
        },
        indent=1,
    )
    plot_sweep(rows, corpus, out / f"{name}.png")
    return rows


def train_change(change: dict) -> dict:
    """The ``TrainConfig`` fields a variant changes."""
    return {k: v for k, v in change.items() if k in TRAIN_SETTINGS}


def model_change(change: dict) -> dict:
    """The ``ModelConfig`` fields a variant changes: a ``context`` variant's positions follow its crops."""
    return {k: v for k, v in change.items() if k in MODEL_SETTINGS or k == "context"}


def check_hybrid(preset: str, label: str, change: dict) -> None:
    """Build the hybrid a variant trains, so that a value it cannot take (``fusion=product``, a ``d_mel``
    as wide as the model, heads that do not divide a width) is one line naming the ``--vary`` option,
    told before any data loads, not after the base runs have trained and written their folders."""
    try:
        build_model("hybrid", preset, **model_change(change))
    except ModelError as err:
        raise TrainingError(f"--vary {label}: {err}") from None


def check_crops(base: CorpusData, config: TrainConfig, label: str) -> None:
    """A ``context`` variant is scored on crops of its own length, which the clips must hold: checked before
    anything trains (the crops themselves are cut again when the variant trains)."""
    try:
        for split in ("validation", base.table_split):
            scoring_crops(base.corpus, split, base.tokenizer, config)
    except DataError as err:
        raise TrainingError(f"--vary {label}: {err}") from None


def sweep_rows(runs: dict, variants: list[str], seeds: int) -> list[dict]:
    """Per variant: the hybrid's test NLL over seeds, and "variant − base" paired by seed."""
    gpt_s = mean_interval([runs["base", "gpt-s", s]["nll"] for s in range(seeds)])
    rows = []
    for variant in variants:
        nll = [runs[variant, "hybrid", s]["nll"] for s in range(seeds)]
        base = [runs["base", "hybrid", s]["nll"] for s in range(seeds)]
        rows.append(
            {
                "variant": variant,
                "params": runs[variant, "hybrid", 0]["params"],
                "nll": mean_interval(nll),
                "minus_base": mean_interval([a - b for a, b in zip(nll, base)]),
                "gpt_s_nll": gpt_s["mean"],
                "acc": sum(runs[variant, "hybrid", s]["acc"] for s in range(seeds)) / seeds,
                "steps": [runs[variant, "hybrid", s]["step"] for s in range(seeds)],
            }
        )
    return rows


def sweep_page(rows: list[dict], corpus: str, preset: str, tokenizer: str, config, seeds: int) -> str:
    """The sweep as a Markdown page: one row per variant."""
    lines = [
        f"# Hybrid ablations on {corpus}, preset `{preset}`, {tokenizer} tokens, {seeds} seeds\n",
        "| variant | params | test NLL (mean ± sd) | variant − base (95% CI) | acc | best steps |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        difference = "—" if row["variant"] == "base" else interval_text(row["minus_base"])
        lines.append(
            f"| {row['variant']} | {row['params'] / 1e6:.3f}M | {with_sd(row['nll']['mean'], row['nll']['sd'])} "
            f"| {difference} "
            f"| {row['acc']:.2%} | {', '.join(map(str, row['steps']))} |"
        )
    return (
        "\n".join(lines)
        + f"\n\nGPT-S on the same crops: {rows[0]['gpt_s_nll']:.3f} nats/token. Base: the preset's hybrid. "
        f"Budget as `reproduce`: at most {config.steps} steps, early stopping with patience {config.patience}. "
        "Negative differences: the variant is better. `context` variants are scored on crops of their own length.\n"
    )


def plot_sweep(rows: list[dict], corpus: str, path: str | Path | None = None):
    """Test NLL of each variant (mean, with its seeds' standard deviation), GPT-S as a line."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(5, 0.8 * len(rows) + 2), 3.8), layout="tight")
    ax = fig.subplots()
    means = [row["nll"]["mean"] for row in rows]
    errors = [row["nll"]["sd"] or 0.0 for row in rows]
    ax.bar(range(len(rows)), means, yerr=errors, capsize=3, color=["C2"] + ["C7"] * (len(rows) - 1))
    ax.axhline(rows[0]["gpt_s_nll"], color="C0", ls="--", label="GPT-S (base budget)")
    ax.set_xticks(range(len(rows)), [row["variant"] for row in rows], rotation=30, ha="right")
    ax.set(title=f"{corpus}: hybrid variants, test NLL", ylabel="NLL (nats/token)")
    ax.set_ylim(min(means + [rows[0]["gpt_s_nll"]]) * 0.9, max(means + [rows[0]["gpt_s_nll"]]) * 1.05)
    return finish_figure(fig, path)
