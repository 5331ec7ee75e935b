"""Tables of a reproduction, laid out like the paper's Tables 1-2, and the run logs they are read from.

A reproduction folder holds one run folder per corpus, model and seed
(``<out>/<corpus>/<model>`` for seed 0, ``<model>-seed<k>`` for the others: ``run_folder``;
see ``wgpt_lite.train`` for what a run writes); everything here reads those logs or the
rows ``reproduce`` returns, so a table or a figure can be redrawn at any time without training::

    >>> row = {"corpus": "mini-speech", "model": "hybrid", "tokenizer": "melvq", "split": "test", "seed": 0,
    ...        "params": 263168, "nll": 3.17, "acc": 0.3317, "validation_nll": 3.6}
    >>> print(results_table([row, {**row, "seed": 1, "nll": 3.19}]).splitlines()[4][:92])
    | mini-speech | Hybrid (mel + tokens) | 0.26M | 2 | 3.600 ± 0.000 | 3.180 ± 0.014 | 33.17% |

One sign convention for every difference: ``paired_differences`` gives "hybrid − GPT-S"
(and the other comparisons of ``CLAIMS``) per seed, so negative means the hybrid is better.
``claim_verdict`` judges each against what the paper says of it ("beats", or "matches" within
``MARGIN``), ``corpus_verdicts`` each corpus, ``verdict_label`` names a verdict for its tokens,
and ``verdict_rule()`` states the rule in words from the same table the code decides with.
``load_runs(out)`` gives every run's records, which ``display.plots.plot_curves(runs, path)`` draws.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from wgpt_lite.data.corpora import corpus_spec
from wgpt_lite.display.plots import MODEL_LABELS, millions
from wgpt_lite.experiment.stats import mean_interval
from wgpt_lite.infra.code_version import describe_code
from wgpt_lite.presets import MODELS
from wgpt_lite.runs.run_folder import METRICS, read_metrics
from wgpt_lite.tokenizers import describe_tokenizer, short_hash

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
MODEL_NAMES = {"gpt-s": "GPT-S", "gpt-l": "GPT-L", "hybrid": "hybrid"}


def corpus_kind(corpus: str) -> str:
    """``"speech"`` or ``"music"``: which of the paper's tables a corpus stands beside."""
    return corpus_spec(corpus).kind


def run_folder(out_dir: str | os.PathLike, corpus: str, model: str, seed: int = 0) -> Path:
    """Where one run writes: ``<out>/<corpus>/<model>`` for seed 0, ``<out>/<corpus>/<model>-seed<k>`` for others.

    >>> run_folder("results/mini-melvq", "mini-music", "hybrid", 2).as_posix()
    'results/mini-melvq/mini-music/hybrid-seed2'
    """
    return Path(out_dir) / corpus / (model if seed == 0 else f"{model}-seed{seed}")


def load_runs(out_dir: str | os.PathLike) -> dict[str, dict[str, dict[int, list[dict]]]]:
    """``{corpus: {model: {seed: records of its metrics.jsonl}}}`` for every run folder under ``out_dir``."""
    runs: dict[str, dict[str, dict[int, list[dict]]]] = {}
    for path in sorted(Path(out_dir).glob(f"*/*/{METRICS}")):
        model, _, seed = path.parent.name.partition("-seed")
        if model in MODELS and (seed == "" or seed.isdigit()):
            runs.setdefault(path.parent.parent.name, {}).setdefault(model, {})[int(seed or 0)] = read_metrics(path)
    return runs


def trained_seeds(out_dir: str | os.PathLike) -> int:
    """How many seeds every model of every corpus under ``out_dir`` has a run of (0 when none): what a
    re-scoring ``reproduce(..., seeds=trained_seeds(out))`` covers without training anything new."""
    runs = load_runs(out_dir)
    counts = [len(seeds) for models in runs.values() for seeds in models.values()]
    return min(counts, default=0)


BASELINE_LABELS = {"repeat": "repeat previous token (baseline)", "bigram": "smoothed bigram (baseline)"}


def summarise_seeds(rows: list[dict]) -> list[dict]:
    """One row per corpus and model, its seeds pooled: ``nll``, ``acc``, ``validation_nll`` become means,
    with ``nll_sd``, ``acc_sd``, ``validation_nll_sd`` (``None`` for one seed), ``seeds`` (how many) and
    ``ppl`` = exp(mean NLL). Order: as the rows first name each (corpus, model)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["corpus"], row["model"]), []).append(row)
    summary = []
    for members in groups.values():
        pooled = {**members[0], "seeds": len(members)}
        for key in ("nll", "acc", "validation_nll"):
            values = [m[key] for m in members if m.get(key) is not None]
            if values:
                spread = mean_interval(values)
                pooled[key], pooled[f"{key}_sd"] = spread["mean"], spread["sd"]
        pooled["ppl"] = math.exp(pooled["nll"])
        summary.append(pooled)
    return summary


def with_sd(value: float, sd: float | None, form: str = ".3f") -> str:
    """``value ± sd`` in ``form`` (``value`` alone when the spread is unknown: one seed)."""
    return f"{value:{form}}" if sd is None else f"{value:{form}} ± {sd:{form}}"


def interval_text(summary: dict) -> str:
    """A signed difference and its 95% half-width (``stats.mean_interval``'s), as the tables print it."""
    half_width = f" ± {summary['half_width']:.3f}" if summary["half_width"] is not None else ""
    return f"{summary['mean']:+.3f}{half_width}"


def results_table(rows: list[dict]) -> str:
    """Markdown table: data | model | params | seeds | validation NLL | test NLL | acc | PPL, the paper's beside.

    Rows as ``reproduce`` returns them (``corpus, model, tokenizer, split, params, nll, acc,
    validation_nll``, one per seed, plus the baselines' rows); several seeds of a model are
    pooled into mean ± standard deviation (``summarise_seeds``). The header names the
    tokenizer(s), since a melvq run is not comparable number for number with EnCodec's.
    """
    tokenizers = ", ".join(sorted({row["tokenizer"] for row in rows}))
    splits = ", ".join(sorted({row["split"] for row in rows}))
    lines = [
        f"| data | model | params | seeds | validation NLL | NLL ({splits}) | acc | PPL "
        "| paper data | paper params | paper NLL | paper acc | paper PPL |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in summarise_seeds(rows):
        kind = corpus_kind(row["corpus"])
        paper = PAPER_RESULTS[kind].get(row["model"])
        validation = row.get("validation_nll")
        ours = (
            f"| {row['corpus']} | {MODEL_LABELS.get(row['model']) or BASELINE_LABELS[row['model']]} "
            f"| {millions(row['params']) if paper else '-'} | {row['seeds'] if paper else '-'} "
            f"| {with_sd(validation, row.get('validation_nll_sd')) if validation is not None else '-'} "
            f"| {with_sd(row['nll'], row.get('nll_sd'))} | {row['acc']:.2%} "
            f"| {row['ppl']:.2f} "
        )
        theirs = (
            f"| {PAPER_DATA[kind]} | {millions(paper['params'])} | {paper['nll']:.2f} | {paper['acc']:.2%} "
            f"| {paper['ppl']:.2f} |"
            if paper
            else "| | | | | |"
        )
        lines.append(ours + theirs)
    return (
        f"NLL in nats/token ({tokenizers} tokens; the paper's: EnCodec), mean ± standard deviation over seeds.\n\n"
        + "\n".join(lines)
        + "\n"
    )


def provenance_lines(provenance: dict[str, dict], code: dict) -> str:
    """What a table's numbers were made from, per corpus, as Markdown lines with short fingerprints.

    ``provenance``: ``{corpus: provenance.provenance}``; ``code``: ``code_version()``.

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


# The paper's claim as three comparisons, each read "first − second": negative means the first is better.
CLAIMS = (("hybrid", "gpt-s"), ("hybrid", "gpt-l"), ("gpt-l", "gpt-s"))

# Nats/token: the equivalence margin of "matches". The paper calls hybrid − GPT-L on speech (−0.01) a match
# and reports GPT-L − GPT-S on speech (−0.08) as what ten times the parameters buy, so a margin must lie
# between the two: wider, and a match could hide a difference the paper counts as one. 0.05 does, and is a
# 5% change of perplexity (exp(0.05) = 1.05). A paper difference within ±MARGIN is the paper saying "matches".
MARGIN = 0.05

# The verdict rule as data, so that one table both decides (``claim_verdict``) and states the rule
# (``verdict_rule``): for what the paper says of a difference, each verdict and where the difference's
# whole 95% interval must lie for it, the bound in units of MARGIN. Anything else is "inconclusive".
VERDICT_RULE = {
    "beats": (("agrees", "below", 0), ("contradicts", "above", 0)),
    "matches": (("agrees", "within", 1), ("better than the paper", "below", -1), ("contradicts", "above", 1)),
}
# What the paper says of a difference, from where its own difference lies (bound in units of MARGIN).
PAPER_SAYS = (("beats", "below", -1), ("matches", "within", 1))
# A corpus's verdict rests on its two hybrid comparisons and is the first of these that either has.
CORPUS_ORDER = ("contradicts", "inconclusive", "better than the paper", "agrees")


def paper_says(paper_difference: float) -> str:
    """``"beats"`` (the first model is better) or ``"matches"``: what the paper says of a difference, by
    ``PAPER_SAYS``. Every difference of ``CLAIMS`` in its tables is one or the other.

    >>> paper_says(1.93 - 1.94), paper_says(2.52 - 2.77)
    ('matches', 'beats')
    """
    for claim, where, bound in PAPER_SAYS:
        if interval_lies(paper_difference, paper_difference, where, bound * MARGIN):
            return claim
    raise ValueError(f"the paper's difference {paper_difference:+.2f} says neither 'beats' nor 'matches'")


def interval_lies(low: float, high: float, where: str, bound: float) -> bool:
    """Whether the whole interval ``low .. high`` lies ``"below"`` or ``"above"`` ``bound``, or ``"within"``
    ±``bound``: how ``paper_says`` and ``claim_verdict`` read a place of ``PAPER_SAYS`` and ``VERDICT_RULE``
    (``_bound_words`` says it in words)."""
    if where == "below":
        return high < bound
    if where == "above":
        return low > bound
    return -bound < low and high < bound


def _bound_words(where: str, bound: float) -> str:
    """``"below 0"``, ``"above +0.05"``, ``"within ±0.05"``: a rule's place for an interval, in words."""
    if where == "within":
        return f"within ±{bound:.2f}"
    return f"{where} {bound:+.2f}" if bound else f"{where} 0"


def paired_differences(rows: list[dict], key: str = "nll") -> list[dict]:
    """``first − second`` in ``key`` (nats/token) for each of ``CLAIMS``, paired by seed, with a 95% interval.

    One entry per corpus and comparison found in ``rows``: ``mean``, ``sd``, ``half_width``
    (``None`` with one seed), ``n`` seeds, ``paper`` (the paper's difference), ``paper_says``
    (``"beats"`` or ``"matches"``) and ``verdict`` (``claim_verdict``). Negative means the first
    model is better, everywhere in the kit.

    >>> rows = [{"corpus": "mini-speech", "model": m, "seed": s, "nll": v}
    ...         for m, s, v in [("gpt-s", 0, 3.3), ("gpt-s", 1, 3.4), ("hybrid", 0, 3.1), ("hybrid", 1, 3.1)]]
    >>> gap = paired_differences(rows)[0]
    >>> gap["first"], gap["second"], round(gap["mean"], 2), round(gap["paper"], 2), gap["paper_says"], gap["verdict"]
    ('hybrid', 'gpt-s', -0.25, -0.09, 'beats', 'inconclusive')
    """
    differences = []
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        values = {(r["model"], r.get("seed", 0)): r[key] for r in rows if r["corpus"] == corpus}
        paper = PAPER_RESULTS[corpus_kind(corpus)]
        for first, second in CLAIMS:
            seeds = sorted(s for m, s in values if m == first and (second, s) in values)
            if seeds:
                spread = mean_interval([values[first, s] - values[second, s] for s in seeds])
                gap = {"corpus": corpus, "first": first, "second": second, **spread}
                gap["paper"] = paper[first]["nll"] - paper[second]["nll"]
                gap["paper_says"] = paper_says(gap["paper"])
                differences.append({**gap, "verdict": claim_verdict(gap)})
    return differences


def claim_verdict(gap: dict) -> str:
    """Whether a difference (``mean``, ``half_width``, ``paper``) agrees with what the paper says of it:
    ``agrees``, ``better than the paper``, ``contradicts`` or ``inconclusive``, by ``VERDICT_RULE``
    (in words: ``verdict_rule()``). Ours counts only through its 95% interval: one seed is ``inconclusive``.

    >>> claim_verdict({"mean": -0.017, "half_width": 0.019, "paper": -0.01})  # within ±0.05 of a paper match
    'agrees'
    >>> claim_verdict({"mean": -0.750, "half_width": 0.186, "paper": -0.01})  # far better than a match
    'better than the paper'
    """
    if gap["half_width"] is None:
        return "inconclusive"
    low, high = gap["mean"] - gap["half_width"], gap["mean"] + gap["half_width"]
    for verdict, where, bound in VERDICT_RULE[paper_says(gap["paper"])]:
        if interval_lies(low, high, where, bound * MARGIN):
            return verdict
    return "inconclusive"


def verdict_rule() -> str:
    """The rule ``claim_verdict`` and ``corpus_verdicts`` apply, in words, made from the very ``PAPER_SAYS``,
    ``VERDICT_RULE``, ``MARGIN`` and ``CORPUS_ORDER`` they read: what a results page or notebook prints
    beside its verdicts, so that the rule stated and the rule applied cannot differ."""
    speech = PAPER_RESULTS["speech"]
    match, gain = speech["hybrid"]["nll"] - speech["gpt-l"]["nll"], speech["gpt-l"]["nll"] - speech["gpt-s"]["nll"]
    says = {
        claim: f"the paper says {'the first model is better' if claim == 'beats' else 'the two match'} "
        f"(its difference {_bound_words(where, bound * MARGIN)})"
        for claim, where, bound in PAPER_SAYS
    }
    clauses = [
        f"Where {says[claim]}: "
        + ", ".join(
            f"*{verdict}* when the interval lies {_bound_words(where, bound * MARGIN)}"
            for verdict, where, bound in rule
        )
        + ". "
        for claim, rule in VERDICT_RULE.items()
    ]
    return (
        "**The rule.** A difference is judged by its whole 95% interval over seeds. "
        + "".join(clauses)
        + "Otherwise *inconclusive*, and always with one seed (no interval). "
        f"The margin, {MARGIN:.2f} nats/token, lies between the {match:+.2f} the paper calls a match (hybrid − "
        f"GPT-L, speech) and the {gain:+.2f} it reports as GPT-L's gain over GPT-S (speech), and is a "
        f"{math.exp(MARGIN) - 1:.0%} change of perplexity. A corpus's verdict is the first of "
        + ", ".join(f"*{verdict}*" for verdict in CORPUS_ORDER)
        + " that hybrid − GPT-S or hybrid − GPT-L has (*inconclusive* without both), and its label names the "
        "tokens it was measured with.\n"
    )


def one_seed(differences: list[dict]) -> bool:
    """Whether every difference rests on one seed: no interval to show, so every verdict is inconclusive."""
    return bool(differences) and all(gap["n"] == 1 for gap in differences)


def verdict_basis(differences: list[dict]) -> str:
    """What the verdicts rest on, for the line above them: intervals over seeds, or none with one seed."""
    if one_seed(differences):
        return "one seed: no interval, so every verdict is inconclusive"
    return "95% intervals over seeds"


def differences_table(differences: list[dict]) -> str:
    """Markdown table of ``paired_differences``: ours with its 95% interval beside the paper's difference and
    what the paper says of it; the verdict is ``claim_verdict``'s, worked out here from the numbers (so a
    results.json an older rule wrote is shown under today's)."""
    ours = "ours (one seed: no interval)" if one_seed(differences) else "ours (mean ± 95% CI)"
    lines = [
        f"| data | difference | {ours} | seeds | paper (says) | verdict |",
        "|---|---|---:|---:|---:|---|",
    ]
    for gap in differences:
        names = f"{MODEL_NAMES[gap['first']]} − {MODEL_NAMES[gap['second']]}"
        lines.append(
            f"| {gap['corpus']} | {names} | {interval_text(gap)} | {gap['n']} "
            f"| {gap['paper']:+.2f} ({paper_says(gap['paper'])}) | {claim_verdict(gap)} |"
        )
    return "\n".join(lines) + "\n"


def corpus_verdicts(differences: list[dict]) -> dict[str, str]:
    """One verdict per corpus on the paper's claim about the hybrid, from ``paired_differences``.

    The claim has two parts per corpus: the hybrid beats GPT-S, and it matches (speech) or beats
    (music) GPT-L. The corpus's verdict is the first of ``CORPUS_ORDER`` that either part's
    ``claim_verdict`` is, ``inconclusive`` without both parts (``verdict_rule()`` says it in words).

    >>> gaps = [{"corpus": "mini-speech", "first": "hybrid", "second": second, "mean": mean, "half_width": 0.08,
    ...          "paper": paper} for second, mean, paper in (("gpt-s", -0.335, -0.09), ("gpt-l", -0.220, -0.01))]
    >>> corpus_verdicts(gaps)
    {'mini-speech': 'better than the paper'}
    """
    parts: dict[str, list[str]] = {}
    for gap in differences:
        if gap["first"] == "hybrid":
            parts.setdefault(gap["corpus"], []).append(claim_verdict(gap))
    return {
        corpus: next(v for v in CORPUS_ORDER if v in verdicts) if len(verdicts) == 2 else "inconclusive"
        for corpus, verdicts in parts.items()
    }


# What a corpus's verdict is called, per tokens: "reproduced" only where the tokens can test the claim and
# say which tokens; with melvq, whose token t+1 is the nearest centroid of a mel frame whose window overlaps
# the one the hybrid sees, agreement is consistency by construction, never a reproduction.
VERDICT_LABELS = {
    "encodec": {
        "agrees": "reproduced with EnCodec tokens",
        "better than the paper": "better than the paper says, with EnCodec tokens",
        "contradicts": "not reproduced with EnCodec tokens",
        "inconclusive": "inconclusive with EnCodec tokens",
    },
    "codec": {
        "agrees": "reproduced on the kit's codec tokens, not EnCodec",
        "better than the paper": "better than the paper says, on the kit's codec tokens, not EnCodec",
        "contradicts": "not reproduced on the kit's codec tokens",
        "inconclusive": "inconclusive on the kit's codec tokens",
    },
    "melvq": {
        "agrees": "consistent with the paper, by construction of the melvq stand-in",
        "better than the paper": "better than the paper says, by construction of the melvq stand-in",
        "contradicts": "against the paper even with the melvq stand-in, which favours the hybrid",
        "inconclusive": "inconclusive with the melvq stand-in, which favours the hybrid",
    },
}


def verdict_label(verdict: str, tokenizer: str) -> str:
    """A corpus's verdict (``corpus_verdicts``) as it is called with ``tokenizer``'s tokens (``VERDICT_LABELS``).

    >>> verdict_label("agrees", "melvq")
    'consistent with the paper, by construction of the melvq stand-in'
    """
    return VERDICT_LABELS[tokenizer][verdict]


# What a verdict can say depends on the tokens it was measured with: stated beside every verdict.
WHAT_THE_TOKENS_TEST = {
    "melvq": "not a test of the paper's claim: a melvq token is the nearest centroid of its mel frame, and mel "
    "frame t shares 704 of its 1,024 samples with mel frame t+1, so the hybrid is handed most of its target "
    "and its lead is expected by construction (`python -m wgpt_lite probe` measures how much one mel frame tells; "
    "a hybrid trained on the `lagged` mel control, `sweep --vary mel_control=lagged`, whose mel shares no sample "
    "with token t+1's window, bounds what that overlap is worth)",
    "codec": "a test of the claim on waveform-codec tokens (codebook 0 of the kit's own small codec), with the "
    "kit's corpora and budget, not the paper's EnCodec, LibriSpeech and MAESTRO; `python -m wgpt_lite probe` "
    "measures whether one mel frame gives the next token away",
    "encodec": "a test of the claim on the paper's tokens (EnCodec's codebook 0); on the paper's data only "
    "with the `paper` preset's corpora",
}


def _parts_text(differences: list[dict], corpus: str) -> str:
    """A corpus's two hybrid comparisons in one line: ``hybrid − GPT-S -0.335 ± 0.090 (paper -0.09, beats: agrees)``."""
    return "; ".join(
        f"hybrid − {MODEL_NAMES[g['second']]} {interval_text(g)} "
        f"(paper {g['paper']:+.2f}, {paper_says(g['paper'])}: {claim_verdict(g)})"
        for g in differences
        if g["corpus"] == corpus and g["first"] == "hybrid"
    )


def verdict_lines(differences: list[dict], tokenizer: str) -> str:
    """The verdicts as Markdown bullet points, each labelled for ``tokenizer``'s tokens (``verdict_label``) with
    the two differences it rests on, then what those tokens let the verdicts test (``WHAT_THE_TOKENS_TEST``).
    The rule they follow, in words: ``verdict_rule()``.

    >>> gaps = [{"corpus": "mini-music", "first": "hybrid", "second": second, "mean": -0.39, "half_width": 0.04,
    ...          "paper": paper} for second, paper in (("gpt-s", -0.26), ("gpt-l", -0.25))]
    >>> label, parts = verdict_lines(gaps, "melvq").splitlines()[0].split("**: ")
    >>> print(label, *parts.split("; "), sep="\\n")
    - **mini-music: consistent with the paper, by construction of the melvq stand-in
    hybrid − GPT-S -0.390 ± 0.040 (paper -0.26, beats: agrees)
    hybrid − GPT-L -0.390 ± 0.040 (paper -0.25, beats: agrees).
    """
    lines = [
        f"- **{corpus}: {verdict_label(verdict, tokenizer)}**: {_parts_text(differences, corpus)}."
        for corpus, verdict in corpus_verdicts(differences).items()
    ]
    lines.append(f"\nWith {tokenizer} tokens these verdicts are {WHAT_THE_TOKENS_TEST[tokenizer]}.")
    return "\n".join(lines) + "\n"


def verdict_table(studies: list[dict]) -> str:
    """One Markdown row per corpus and tokenizer of several studies (each a results.json: ``tokenizer`` and
    ``differences``): the two hybrid differences with the paper's, and the labelled verdict. A study's
    verdicts are worked out from its numbers by today's rule, whatever rule wrote its file.

    >>> gaps = [{"corpus": "mini-music", "first": "hybrid", "second": second, "mean": mean, "half_width": half,
    ...          "n": 3, "paper": paper} for second, mean, half, paper in (("gpt-s", -0.372, 0.062, -0.26),
    ...                                                                    ("gpt-l", 0.011, 0.105, -0.25))]
    >>> study = {"tokenizer": "codec", "differences": gaps}
    >>> print(*verdict_table([study]).splitlines()[2].split(" | "), sep="\\n")
    | mini-music
    codec
    -0.372 ± 0.062 (-0.26, beats: agrees)
    +0.011 ± 0.105 (-0.25, beats: inconclusive)
    inconclusive on the kit's codec tokens |
    """
    lines = [
        "| corpus | tokens | hybrid − GPT-S (paper, says: verdict) | hybrid − GPT-L (paper, says: verdict) | verdict |",
        "|---|---|---:|---:|---|",
    ]
    for study in studies:
        differences = study["differences"]
        for corpus, verdict in corpus_verdicts(differences).items():
            cells = [
                f"{interval_text(g)} ({g['paper']:+.2f}, {paper_says(g['paper'])}: {claim_verdict(g)})"
                for second in ("gpt-s", "gpt-l")
                for g in differences
                if g["corpus"] == corpus and g["first"] == "hybrid" and g["second"] == second
            ]
            label = verdict_label(verdict, study["tokenizer"])
            lines.append(f"| {corpus} | {study['tokenizer']} | {' | '.join(cells)} | {label} |")
    return "\n".join(lines) + "\n"
