"""How much does one mel frame tell? Token ``t + 1`` predicted from mel frame ``t`` alone.

The hybrid predicts token ``t + 1`` having seen the causal log-mel up to frame ``t``. How much
of its gain could that last frame give on its own? With the ``melvq`` tokenizer, token ``t + 1``
is the nearest centroid of mel frame ``t + 1``, whose 1024-sample window shares 704 samples
with frame ``t``'s: the newest mel frame nearly spells the next token, and a model that reads
it needs no language model at all. A tokenizer whose tokens carry what the mel does not (a
waveform codec's codebook 0) should give much less away.

``mel_frame_probe`` measures it for any tokenizer: a small MLP (``MelFrameProbe``: one mel
frame, standardised with the training split's statistics, -> 256 -> 256 -> vocabulary, GELU,
dropout) fitted with Adam on every (mel frame ``t``, token ``t + 1``) pair of the training
split, for a fixed number of seeded steps; then scored on exactly the crops and positions the
models are scored on (``reproduce.scoring_crops``: targets are tokens ``1..T`` of each crop,
here each predicted from mel frame ``t`` alone), beside the repeat and smoothed-bigram baselines
of ``baselines.py`` and the GPT-S and hybrid rows a reproduction wrote (``results.json``).

    python -m wgpt_lite probe --corpus mini-speech --tokenizer melvq --preset mini
    python -m wgpt_lite probe --corpus mini-speech --tokenizer codec --preset mini

Should a results folder hold models scored on other crops (another context or crop count) or
other tokens, their rows are not shown as comparable: the probe takes the crops' context and
count from the folder's ``results.json``, and checks that its own bigram, fitted and scored
as the folder's was, gives the very NLL the folder recorded.

    >>> import tempfile
    >>> rows = mel_frame_probe("sample-speech", "melvq", preset="smoke", steps=20, results=tempfile.mkdtemp())
    >>> [(row["model"], row["split"], row["nll"] is not None) for row in rows]
    [('repeat', 'validation', True), ('bigram', 'validation', True), ('mel-frame', 'validation', True),
     ('gpt-s', 'validation', False), ('hybrid', 'validation', False)]
    >>> print(probe_verdict(rows))
    On sample-speech (melvq tokens), mel frame t alone predicts token t+1 at ... nats/token against the smoothed
    bigram's ...; GPT-S is not trained (no .../results.json), so there is no comparison with it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from wgpt_lite.batches import clip_arrays
from wgpt_lite.data.provenance import provenance_difference
from wgpt_lite.display.environment import shown_path
from wgpt_lite.display.plots import MODEL_LABELS, millions
from wgpt_lite.experiment.reproduce import CorpusData, results_dir, tokenizer_name
from wgpt_lite.experiment.results import BASELINE_LABELS, summarise_seeds
from wgpt_lite.infra.errors import DataError
from wgpt_lite.infra.files import read_json
from wgpt_lite.presets import get_preset, train_config
from wgpt_lite.train import TrainConfig

PROBE = "mel-frame"  # the probe's name in rows
PROBE_LABEL = "MLP on mel frame t (probe)"
COMPARED_MODELS = ("gpt-s", "hybrid")  # the rows of a results folder shown beside the probe
# What each predictor of the table is given when it predicts token t+1.
SEES = {
    "repeat": "token t",
    "bigram": "token t",
    PROBE: "mel frame t",
    "gpt-s": "tokens 0..t",
    "hybrid": "tokens + mel 0..t",
}

# The probe and its fit, chosen on the *validation* splits with melvq tokens (never on test):
# on mini-speech dropout 0.3 beat 0.1 (3.04 against 3.16 nats/token after 1,600 steps) and 0.5 was
# no better (3.01); mini-music's was still falling at 1,600 steps (1.26; 1.19 at 2,400), mini-speech's
# was not (3.12 at 2,400: within the spread of a seed), hence 2,400. About 30 s on one busy CPU thread.
PROBE_WIDTH = 256
PROBE_DROPOUT = 0.3
PROBE_STEPS = 2400
PROBE_BATCH = 256  # (mel frame, next token) pairs a step
PROBE_LR = 2e-3  # Adam's peak; cosine decay to zero over the steps
PROBE_SEED = 0
SAME_NLL = 1e-9  # nats/token: a bigram scored on the same crops gives the same NLL, to rounding
RESULTS_FILE = "results.json"


class MelFrameProbe(nn.Module):
    """One log-mel frame ``[..., n_mels]`` -> logits over the next token ``[..., vocab]``.

    The frame is standardised with the training split's per-band mean and spread (kept as
    buffers), so Adam's one learning rate suits every band.
    """

    def __init__(self, vocab_size: int, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clamp(min=1e-6))  # a band constant in training would divide by zero
        self.mlp = nn.Sequential(
            nn.Linear(len(mean), PROBE_WIDTH),
            nn.GELU(),
            nn.Dropout(PROBE_DROPOUT),
            nn.Linear(PROBE_WIDTH, PROBE_WIDTH),
            nn.GELU(),
            nn.Dropout(PROBE_DROPOUT),
            nn.Linear(PROBE_WIDTH, vocab_size),
        )

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.mlp((mel - self.mean) / self.std)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def frame_pairs(dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mel [frames, n_mels], tokens [frames], sources)`` of a feature dataset, its clips end to end:
    ``sources`` are the frames ``t`` with a successor in their clip, each pair ``(mel[t], tokens[t + 1])``."""
    arrays = clip_arrays(dataset)
    last_frames = (arrays.starts + arrays.lengths - 1).numpy()
    sources = np.setdiff1d(np.arange(len(arrays.tokens)), last_frames)  # a clip's last frame has no next token
    if len(sources) == 0:
        raise DataError(f"{arrays.name}: no clip holds two frames; the probe needs (mel frame, next token) pairs")
    return torch.from_numpy(arrays.mel), torch.from_numpy(arrays.tokens), torch.from_numpy(sources)


def fit_probe(
    dataset, vocab_size: int, steps: int = PROBE_STEPS, seed: int = PROBE_SEED, progress: bool = False
) -> MelFrameProbe:
    """A ``MelFrameProbe`` fitted on every (mel frame t, token t+1) pair of ``dataset`` (a training split).

    Deterministic for a seed: it picks the initial weights, the dropout and the batches.
    """
    from tqdm.auto import tqdm  # lazy: tqdm.auto loads IPython when it is installed

    mel, tokens, sources = frame_pairs(dataset)
    paired = mel[sources]
    torch.manual_seed(seed)  # initial weights and dropout
    probe = MelFrameProbe(vocab_size, paired.mean(0), paired.std(0))
    optimizer = torch.optim.Adam(probe.parameters(), lr=PROBE_LR)
    batches = torch.Generator().manual_seed(seed)
    probe.train()
    for step in tqdm(range(steps), desc="mel-frame probe", unit="step", disable=not progress, dynamic_ncols=True):
        for group in optimizer.param_groups:  # cosine decay: the last steps settle instead of jumping about
            group["lr"] = PROBE_LR * 0.5 * (1 + math.cos(math.pi * step / steps))
        pick = sources[torch.randint(len(sources), (PROBE_BATCH,), generator=batches)]
        loss = F.cross_entropy(probe(mel[pick]), tokens[pick + 1])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return probe.eval()


@torch.no_grad()
def score_probe(probe: MelFrameProbe, batch: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """NLL (nats/token), PPL and top-1 accuracy on ``(tokens, mel)`` crops, counting the targets
    ``train.evaluate`` counts (tokens 1..T of every crop), each predicted from the mel frame before it."""
    tokens, mel = batch
    logits = probe(mel[:, :-1].flatten(0, 1).float())
    targets = tokens[:, 1:].flatten().long()
    nll = F.cross_entropy(logits.double(), targets).item()
    acc = (logits.argmax(1) == targets).double().mean().item()
    return {"nll": nll, "ppl": math.exp(nll), "acc": acc}


def read_results(folder: Path) -> dict | None:
    """A reproduction's ``results.json`` in ``folder``, or None when there is none."""
    path = folder / RESULTS_FILE
    if not path.is_file():
        return None
    return read_json(path, "a reproduction's results", f"run the reproduction again to write {path} anew")


def scoring_config(preset: str, recorded: dict | None) -> TrainConfig:
    """The preset's budget, with the scoring crops' context and count of ``recorded`` (a results.json) when
    there is one: the probe is scored where the folder's models were."""
    config = train_config(preset)
    if recorded is None:
        return config
    scored = recorded["train_config"]
    return replace(config, context=scored["context"], eval_crops=scored["eval_crops"])


def compared_rows(folder: Path, recorded: dict | None, data: CorpusData, baselines: list[dict]) -> list[dict]:
    """Rows of ``COMPARED_MODELS`` from ``recorded`` (``folder``'s results.json), seeds pooled, when they were
    scored on the crops and tokens ``data`` holds; otherwise rows without numbers whose ``note`` says why."""
    corpus, split = data.corpus, data.table_split
    kept = [row for row in (recorded or {}).get("rows", []) if row["corpus"] == corpus]
    if recorded is None:
        reason = f"not trained (no {shown_path(folder / RESULTS_FILE)})"
    elif not kept:
        reason = f"not trained (no {corpus} rows in {shown_path(folder / RESULTS_FILE)})"
    elif difference := provenance_difference(recorded["provenance"].get(corpus), data.provenance):
        reason = f"trained on other data ({difference})"
    elif not same_crops(kept, baselines):
        reason = f"scored on other crops than these ({shown_path(folder / RESULTS_FILE)}'s bigram NLL differs)"
    else:
        reason = None
    rows = []
    for model in COMPARED_MODELS:
        trained = [row for row in kept if row["model"] == model and row["split"] == split]
        if reason or not trained:
            note = reason or f"not trained (no {model} row for {corpus} in {shown_path(folder / RESULTS_FILE)})"
            rows.append({"corpus": corpus, "model": model, "tokenizer": data.tokenizer.name, "split": split,
                         "params": None, "nll": None, "acc": None, "validation_nll": None, "note": note})  # fmt: skip
        else:
            pooled = summarise_seeds(trained)[0]
            rows.append({**pooled, "note": f"{shown_path(folder / RESULTS_FILE)}, {pooled['seeds']} seed(s)"})
    return rows


def same_crops(recorded_rows: list[dict], baselines: list[dict]) -> bool:
    """Whether the folder's bigram and ours, both fitted on the same training split, give the same NLL on
    their crops: the check that the folder's models were scored on the very crops and positions ours are."""
    theirs = [row for row in recorded_rows if row["model"] == "bigram"]
    ours = [row for row in baselines if row["model"] == "bigram"]
    return bool(theirs) and theirs[0]["split"] == ours[0]["split"] and abs(theirs[0]["nll"] - ours[0]["nll"]) < SAME_NLL


def mel_frame_probe(
    corpus: str,
    tokenizer="auto",
    preset: str = "mini",
    results: str | Path | None = None,
    steps: int = PROBE_STEPS,
    seed: int = PROBE_SEED,
    progress: bool = False,
) -> list[dict]:
    """How well mel frame t alone predicts token t+1 on ``corpus``, beside the baselines and the models.

    Returns rows like ``reproduce``'s (``corpus, model, tokenizer, params, split, nll, ppl, acc,
    validation_nll``, and a ``note`` saying where a model's numbers come from): the repeat and
    bigram baselines, the probe (``model == "mel-frame"``, fitted ``steps`` steps on the training
    split), then GPT-S and the hybrid of ``results`` (default ``results/<preset>-<tokenizer>``),
    with ``nll`` None and the reason in ``note`` when that folder holds none comparable.
    ``probe_table(rows)`` lays them out; ``probe_verdict(rows)`` says who wins in one sentence.
    """
    preset = get_preset(preset).name
    tokenizer = tokenizer_name(tokenizer)  # "auto" decided once, for the features and the folder's name
    folder = Path(results) if results else results_dir(preset, tokenizer)
    recorded = read_results(folder)
    data = CorpusData(corpus, tokenizer, scoring_config(preset, recorded))
    baselines = data.baseline_rows()
    probe = fit_probe(data.train, data.tokenizer.vocab_size, steps, seed, progress)
    probe_row = {
        "corpus": corpus,
        "model": PROBE,
        "tokenizer": data.tokenizer.name,
        "params": probe.num_params(),
        "split": data.table_split,
        **score_probe(probe, data.test),
        "validation_nll": score_probe(probe, data.validation)["nll"],
        "steps": steps,
        "note": f"fitted here, {steps} steps, seed {seed}",
    }
    return [*baselines, probe_row, *compared_rows(folder, recorded, data, baselines)]


def probe_table(rows: list[dict]) -> str:
    """Markdown: each predictor, what it sees, its NLL and accuracy on the scored split, and its source;
    then ``probe_verdict``'s sentence."""
    first = rows[0]
    lines = [
        f"{first['corpus']}, {first['tokenizer']} tokens: token t+1 predicted from what each sees "
        f"(NLL in nats/token on the models' {first['split']} crops)\n",
        f"| predictor | sees | params | validation NLL | NLL ({first['split']}) | acc | note |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        label = {**MODEL_LABELS, **BASELINE_LABELS, PROBE: PROBE_LABEL}[row["model"]]
        params = millions(row["params"]) if row["params"] else "-"
        validation = f"{row['validation_nll']:.3f}" if row.get("validation_nll") is not None else "-"
        scores = f"{row['nll']:.3f} | {row['acc']:.2%}" if row["nll"] is not None else "- | -"
        lines.append(f"| {label} | {SEES[row['model']]} | {params} | {validation} | {scores} | {row.get('note', '')} |")
    return "\n".join(lines) + f"\n\n{probe_verdict(rows)}\n"


def probe_verdict(rows: list[dict]) -> str:
    """One sentence: does mel frame t alone beat GPT-S (or, where none was trained, the bigram)?"""
    by_model = {row["model"]: row for row in rows}
    probe, bigram, gpt_s = by_model[PROBE], by_model["bigram"], by_model["gpt-s"]
    said = (
        f"On {probe['corpus']} ({probe['tokenizer']} tokens), mel frame t alone predicts token t+1 "
        f"at {probe['nll']:.3f}"
    )
    if gpt_s["nll"] is None:
        return (
            f"{said} nats/token against the smoothed bigram's {bigram['nll']:.3f}; GPT-S is {gpt_s['note']}, "
            "so there is no comparison with it."
        )
    gap = gpt_s["nll"] - probe["nll"]
    if gap > 0:
        return f"{said} nats/token: it beats GPT-S ({gpt_s['nll']:.3f}) by {gap:.3f}."
    return f"{said} nats/token: it does not beat GPT-S (GPT-S {gpt_s['nll']:.3f} is {-gap:.3f} nats/token lower)."
