"""Tables and curves of a reproduction, laid out like the paper's Tables 1-2 and its loss curves.

A reproduction folder holds one run folder per corpus and model
(``<out>/<corpus>/<model>/metrics.jsonl``, see ``wgpt_lite.train``); everything here reads
those logs or the rows ``reproduce`` returns, so a table or a figure can be redrawn at any
time without training::

    >>> row = {"corpus": "mini-speech", "model": "hybrid", "tokenizer": "melvq", "split": "test",
    ...        "params": 263168, "nll": 3.17, "acc": 0.3317, "ppl": 23.87}
    >>> print(results_table([row]).splitlines()[2])
    | mini-speech | Hybrid (mel + tokens) | 0.26M | 3.17 | 33.17% | 23.87 | LibriSpeech | 4.00M | 1.93 | 35.05% | 6.96 |
    >>> [(gap["than"], round(gap["paper"], 2)) for gap in claim_gaps([row, {**row, "model": "gpt-s", "nll": 3.32}])]
    [('gpt-s', 0.09)]

``load_runs(out)`` gives every run's records and ``plot_curves(runs, path)`` draws them;
matplotlib is imported inside ``plot_curves`` to keep ``import wgpt_lite`` light.
"""

from __future__ import annotations

import os
from pathlib import Path

from wgpt_lite.corpora import corpus_spec
from wgpt_lite.feature_cache import describe_code
from wgpt_lite.presets import MODELS
from wgpt_lite.tokenizers import describe_tokenizer, short_hash
from wgpt_lite.train import METRICS, read_metrics

# The paper's Tables 1 (LibriSpeech) and 2 (music): NLL in nats/token, top-1 accuracy, PPL.
PAPER_RESULTS = {
    "speech": {
        "gpt-s": dict(params=3.7e6, nll=2.02, acc=0.3418, ppl=7.54),
        "gpt-l": dict(params=40e6, nll=1.94, acc=0.3482, ppl=6.96),
        "hybrid": dict(params=4.0e6, nll=1.93, acc=0.3505, ppl=6.96),  # exp(1.93) = 6.89: the paper's slip
    },
    "music": {
        "gpt-s": dict(params=3.7e6, nll=2.78, acc=0.3496, ppl=16.12),
        "gpt-l": dict(params=40e6, nll=2.77, acc=0.3572, ppl=15.96),
        "hybrid": dict(params=4.0e6, nll=2.52, acc=0.3847, ppl=12.43),
    },
}
PAPER_DATA = {"speech": "LibriSpeech", "music": "Music (MAESTRO)"}
MODEL_LABELS = {"gpt-s": "GPT-S (tokens only)", "gpt-l": "GPT-L (tokens only)", "hybrid": "Hybrid (mel + tokens)"}


def corpus_kind(corpus: str) -> str:
    """``"speech"`` or ``"music"``: which of the paper's tables a corpus stands beside."""
    return corpus_spec(corpus).kind


def load_runs(out_dir: str | os.PathLike) -> dict[str, dict[str, list[dict]]]:
    """``{corpus: {model: records of its metrics.jsonl}}`` for every run folder under ``out_dir``."""
    runs: dict[str, dict[str, list[dict]]] = {}
    for path in sorted(Path(out_dir).glob(f"*/*/{METRICS}")):
        model, corpus = path.parent.name, path.parent.parent.name
        if model in MODELS:
            runs.setdefault(corpus, {})[model] = read_metrics(path)
    return runs


def _millions(params: float) -> str:
    return f"{params / 1e6:.2f}M" if params < 1e7 else f"{params / 1e6:.1f}M"


def results_table(rows: list[dict]) -> str:
    """Markdown table: data | model | params | NLL | acc | PPL, with the paper's numbers beside ours.

    Each row: ``corpus, model, tokenizer, split, params, nll, acc, ppl``. The header names
    the tokenizer(s), since a melvq run is not comparable number for number with EnCodec's.
    """
    tokenizers = ", ".join(sorted({row["tokenizer"] for row in rows}))
    splits = ", ".join(sorted({row["split"] for row in rows}))
    lines = [
        f"| data | model | params | NLL ({tokenizers} tokens, {splits}) | acc | PPL "
        "| paper data | paper params | paper NLL (encodec) | paper acc | paper PPL |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        kind = corpus_kind(row["corpus"])
        paper = PAPER_RESULTS[kind][row["model"]]
        lines.append(
            f"| {row['corpus']} | {MODEL_LABELS[row['model']]} | {_millions(row['params'])} | {row['nll']:.2f} | "
            f"{row['acc']:.2%} | {row['ppl']:.2f} | {PAPER_DATA[kind]} | {_millions(paper['params'])} | "
            f"{paper['nll']:.2f} | {paper['acc']:.2%} | {paper['ppl']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def provenance_lines(provenance: dict[str, dict], code: dict) -> str:
    """What a table's numbers were made from, per corpus, as Markdown lines with short fingerprints.

    ``provenance``: ``{corpus: feature_cache.provenance}``; ``code``: ``feature_cache.code_version()``.

    >>> made_from = {"corpus": "mini-speech", "corpus_sha256": "5e6f" * 16,
    ...              "tokenizer": {"name": "melvq", "k": 1024, "codebook_sha256": "1a2b" * 16}}
    >>> print(provenance_lines({"mini-speech": made_from}, {"wgpt_lite": "0.1.0"}))
    Made from (sha256 fingerprints, first 8 hex digits; in full in results.json):
    - mini-speech: content 5e6f5e6f…, melvq codebook 1a2b1a2b…
    - code: wgpt_lite 0.1.0
    <BLANKLINE>
    """
    lines = ["Made from (sha256 fingerprints, first 8 hex digits; in full in results.json):"]
    for corpus, made in provenance.items():
        tokens = describe_tokenizer(made["tokenizer"])
        lines.append(f"- {corpus}: content {short_hash(made['corpus_sha256'])}, {tokens}")
    lines.append(f"- code: wgpt_lite {describe_code(code)}")
    return "\n".join(lines) + "\n"


def validation_curves(records: list[dict]) -> tuple[list[float], list[float]]:
    """(epochs, validation NLL) of one run's log."""
    evals = [r for r in records if r["kind"] == "eval"]
    return [r["epoch"] for r in evals], [r["nll"] for r in evals]


def plot_curves(runs: dict[str, dict[str, list[dict]]], path: str | os.PathLike | None = None):
    """Validation loss per epoch, one panel per corpus, one line per model (the paper's Figs. 2-3).

    ``runs`` as from ``load_runs``. Titles name the tokenizer. Saved as PNG when ``path`` is
    given; returns the figure. It is drawn without pyplot, so saving a file never changes
    the plotting backend of a notebook.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5 * max(1, len(runs)), 4), layout="tight")
    axes = fig.subplots(1, max(1, len(runs)), squeeze=False)[0]
    for ax, (corpus, models) in zip(axes, runs.items()):
        tokenizers = sorted({r["tokenizer"] for records in models.values() for r in records if "tokenizer" in r})
        for model in MODELS:
            if model in models:
                epochs, nll = validation_curves(models[model])
                params = next((f", {_millions(r['params'])}" for r in models[model] if r["kind"] == "run"), "")
                ax.plot(epochs, nll, marker="o", ms=3, label=f"{MODEL_LABELS[model]}{params}")
        ax.set(
            title=f"{corpus}: validation loss ({', '.join(tokenizers)} tokens)",
            xlabel="epoch",
            ylabel="NLL (nats/token)",
        )
        ax.grid(alpha=0.3)
        ax.legend()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


# The paper's claim as three comparisons: (better model, than this one).
CLAIMS = (("hybrid", "gpt-s"), ("hybrid", "gpt-l"), ("gpt-l", "gpt-s"))


def claim_gaps(rows: list[dict]) -> list[dict]:
    """How many nats/token the first model of each of ``CLAIMS`` beats the second by, ours and the paper's.

    Positive means the first model is better. One entry per corpus and comparison found in ``rows``.
    """
    gaps = []
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        nll = {r["model"]: r["nll"] for r in rows if r["corpus"] == corpus}
        paper = PAPER_RESULTS[corpus_kind(corpus)]
        for better, than in CLAIMS:
            if better in nll and than in nll:
                gaps.append(
                    {
                        "corpus": corpus,
                        "better": better,
                        "than": than,
                        "ours": nll[than] - nll[better],
                        "paper": paper[than]["nll"] - paper[better]["nll"],
                    }
                )
    return gaps
