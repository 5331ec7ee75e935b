"""Seeds, intervals, early stopping, controls, baselines and sweeps: what makes the comparison trustworthy."""

import itertools
import json
import math
import re

import pytest
import torch

import wgpt_lite as wl
from wgpt_lite.batches import control_batch, control_mel
from wgpt_lite.experiment import results
from wgpt_lite.experiment.baselines import fit_bigram, fit_repeat, score_baseline
from wgpt_lite.experiment.controls import position_nll
from wgpt_lite.experiment.reproduce import CorpusData, scoring_crops, train_model
from wgpt_lite.experiment.results import claim_verdict, load_runs, paired_differences, results_table
from wgpt_lite.experiment.stats import mean_interval, t_quantile_975, token_streams
from wgpt_lite.experiment.sweep import parse_variations, sweep
from wgpt_lite.infra.device import pick_device, pick_precision
from wgpt_lite.infra.errors import ModelError, TrainingError
from wgpt_lite.infra.files import save_tensors
from wgpt_lite.infra.settings import REPO_ROOT
from wgpt_lite.runs.checkpoint import BEST, CHECKPOINT, load_checkpoint
from wgpt_lite.runs.run_folder import METRICS, read_metrics

SMOKE = wl.train_config("smoke")


@pytest.fixture(scope="module")
def speech():
    return CorpusData("sample-speech", "melvq", SMOKE)


# --- seeds ------------------------------------------------------------------------------


def test_seeds_change_weights_and_training_crops_but_never_the_scoring_crops(speech, tmp_path):
    rows = [train_model("gpt-s", speech, "smoke", wl.train_config("smoke", seed=s, steps=3), tmp_path) for s in (0, 1)]
    first, second = (load_checkpoint(row["weights"]) for row in rows)
    assert not torch.equal(first["model"]["wte.weight"], second["model"]["wte.weight"])
    assert first["rng"]["batches"].ne(second["rng"]["batches"]).any(), "other training crops"
    assert rows[0]["nll"] != rows[1]["nll"]
    again = scoring_crops("sample-speech", "validation", speech.tokenizer, wl.train_config("smoke", seed=7))
    assert all(torch.equal(a, b) for a, b in zip(again, speech.validation))
    assert [p.name for p in sorted((tmp_path / "sample-speech").iterdir())] == ["gpt-s", "gpt-s-seed1"]
    assert sorted(load_runs(tmp_path)["sample-speech"]["gpt-s"]) == [0, 1]


def test_interval_arithmetic_on_known_inputs():
    assert t_quantile_975(1) == 12.706 and t_quantile_975(4) == 2.776
    assert t_quantile_975(60) == pytest.approx(2.000, abs=1e-3)
    summary = mean_interval([2.0, 4.0, 6.0, 8.0])
    assert summary["mean"] == 5.0 and summary["sd"] == pytest.approx(math.sqrt(20 / 3))
    assert summary["half_width"] == pytest.approx(3.182 * math.sqrt(20 / 3) / 2)
    assert mean_interval([1.5]) == {"mean": 1.5, "sd": None, "half_width": None, "n": 1}


def test_differences_are_paired_by_seed_with_one_sign_convention():
    nll = {("gpt-s", 0): 3.0, ("gpt-s", 1): 3.5, ("hybrid", 0): 2.8, ("hybrid", 1): 3.2, ("gpt-l", 0): 2.9}
    rows = [{"corpus": "mini-music", "model": m, "seed": s, "nll": v} for (m, s), v in nll.items()]
    gaps = {(g["first"], g["second"]): g for g in paired_differences(rows)}
    hybrid = gaps["hybrid", "gpt-s"]
    assert hybrid["mean"] == pytest.approx(-0.25) and hybrid["n"] == 2  # paired: -0.2 and -0.3, not -0.25 ± 0.35
    assert hybrid["half_width"] == pytest.approx(12.706 * 0.05)  # t(1 df) x sd 0.0707 / sqrt(2)
    assert hybrid["paper"] == pytest.approx(2.52 - 2.78), "negative: the hybrid is better, in the paper too"
    assert gaps["hybrid", "gpt-l"]["n"] == 1 and gaps["hybrid", "gpt-l"]["verdict"] == "inconclusive"


@pytest.mark.parametrize(
    ("mean", "half_width", "paper", "verdict"),
    [
        (-0.3, 0.1, -0.26, "agrees"),  # the paper says "beats": the whole interval below 0
        (0.2, 0.1, -0.26, "contradicts"),
        (-0.05, 0.1, -0.26, "inconclusive"),
        (-0.017, 0.019, -0.01, "agrees"),  # the paper says "matches": the whole interval within ±MARGIN
        (0.02, 0.02, -0.01, "agrees"),
        (-0.750, 0.186, -0.01, "better than the paper"),  # wholly below -MARGIN: not a match, better
        (-0.04, 0.03, -0.01, "inconclusive"),  # not worse than a match, and not shown to be one
        (0.1, 0.02, -0.01, "contradicts"),
        (0.03, 0.03, -0.01, "inconclusive"),
        (-0.3, None, -0.26, "inconclusive"),  # one seed: no interval
    ],
)
def test_verdicts_follow_the_interval(mean, half_width, paper, verdict):
    assert claim_verdict({"mean": mean, "half_width": half_width, "paper": paper}) == verdict


PLACE = r"(below|above|within ±) ?([-+]?\d+(?:\.\d+)?)"


def rule_as_written(text: str) -> list:
    """The verdict rule read back from its words alone: per "Where the paper says ..." the paper's place and
    each verdict's place for the interval."""
    sections = text.split("Otherwise")[0].split("Where the paper says")[1:]
    return [
        (
            re.search(r"its difference " + PLACE, section).groups(),
            re.findall(r"\*([^*]+)\* when the interval lies " + PLACE, section),
        )
        for section in sections
    ]


def lies_as_written(low: float, high: float, where: str, number: str) -> bool:
    bound = float(number)
    return {"below": high < bound, "above": low > bound, "within ±": -bound < low and high < bound}[where]


def verdict_as_written(rule: list, mean: float, half_width: float, paper: float) -> str:
    for paper_place, clauses in rule:
        if lies_as_written(paper, paper, *paper_place):
            return next(
                (v for v, *place in clauses if lies_as_written(mean - half_width, mean + half_width, *place)),
                "inconclusive",
            )
    raise AssertionError(f"the written rule says nothing of a paper difference {paper}")


@pytest.mark.parametrize("margin", [results.MARGIN, 0.2])
def test_the_rule_in_words_is_the_rule_the_code_applies(margin, monkeypatch):
    monkeypatch.setattr(results, "MARGIN", margin)
    text = wl.verdict_rule()
    assert f"within ±{margin:.2f}" in text and f"{margin:.2f} nats/token" in text
    rule = rule_as_written(text)
    assert [len(clauses) for _, clauses in rule] == [len(r) for r in results.VERDICT_RULE.values()]
    for paper in (-0.26, -0.25, -0.09, -0.08, -0.01, 0.0, 0.013, -0.043, -0.19):
        for mean in [k * 0.0137 for k in range(-60, 61)]:
            for half_width in (0.004, 0.019, 0.046, 0.105, 0.31):
                gap = {"mean": mean, "half_width": half_width, "paper": paper}
                assert claim_verdict(gap) == verdict_as_written(rule, mean, half_width, paper), gap
    written_order = re.search(r"the first of (.*?) that", text).group(1)
    assert re.findall(r"\*([^*]+)\*", written_order) == list(results.CORPUS_ORDER)


EXAMPLE = {  # a hybrid comparison with each verdict, against a paper that says "matches" (-0.01)
    "agrees": (0.0, 0.02),
    "better than the paper": (-0.3, 0.02),
    "contradicts": (0.3, 0.02),
    "inconclusive": (0.0, 0.3),
}


def test_a_corpus_takes_the_first_verdict_of_its_two_parts_in_the_written_order():
    order = re.findall(r"\*([^*]+)\*", re.search(r"the first of (.*?) that", wl.verdict_rule()).group(1))
    for first, second in itertools.product(EXAMPLE, repeat=2):
        gaps = [
            {"corpus": "mini-speech", "first": "hybrid", "second": other, "mean": m, "half_width": h, "paper": -0.01}
            for other, (m, h) in (("gpt-s", EXAMPLE[first]), ("gpt-l", EXAMPLE[second]))
        ]
        expected = next(v for v in order if v in (first, second))
        assert wl.corpus_verdicts(gaps) == {"mini-speech": expected}
        assert wl.corpus_verdicts(gaps[:1]) == {"mini-speech": "inconclusive"}, "both parts, or no verdict"


def study(tokenizer: str, corpus: str, paper: str, gpt_s: tuple, gpt_l: tuple) -> dict:
    kind = results.PAPER_RESULTS[paper]
    return {
        "tokenizer": tokenizer,
        "differences": [
            {"corpus": corpus, "first": "hybrid", "second": second, "mean": m, "half_width": h, "n": 3,
             "paper": kind["hybrid"]["nll"] - kind[second]["nll"]}
            for second, (m, h) in (("gpt-s", gpt_s), ("gpt-l", gpt_l))
        ],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("tokenizer", "corpus", "paper", "gpt_s", "gpt_l", "label"),
    [  # the two mini studies of docs/results.md, as their results.json hold them
        ("codec", "mini-speech", "speech", (-0.335, 0.090), (-0.220, 0.081),
         "better than the paper says, on the kit's codec tokens, not EnCodec"),
        ("codec", "mini-music", "music", (-0.372, 0.062), (0.011, 0.105), "inconclusive on the kit's codec tokens"),
        ("melvq", "mini-speech", "speech", (-0.694, 0.078), (-0.750, 0.186),
         "better than the paper says, by construction of the melvq stand-in"),
        ("melvq", "mini-music", "music", (-0.398, 0.046), (-0.381, 0.032),
         "consistent with the paper, by construction of the melvq stand-in"),
        ("encodec", "librispeech", "speech", (-0.09, 0.02), (-0.01, 0.02), "reproduced with EnCodec tokens"),
    ],
)  # fmt: skip
def test_each_verdict_is_labelled_with_what_its_tokens_can_show(tokenizer, corpus, paper, gpt_s, gpt_l, label):
    made = study(tokenizer, corpus, paper, gpt_s, gpt_l)
    assert f"| {corpus} | {tokenizer} |" in wl.verdict_table([made]) and wl.verdict_table([made]).endswith(
        f"| {label} |\n"
    )
    assert wl.verdict_lines(made["differences"], tokenizer).startswith(f"- **{corpus}: {label}**: hybrid − GPT-S")


def test_every_label_names_its_tokens_and_melvq_is_never_called_reproduced():
    named = {"encodec": "EnCodec tokens", "codec": "the kit's codec tokens", "melvq": "the melvq stand-in"}
    for tokenizer, labels in results.VERDICT_LABELS.items():
        assert sorted(labels) == sorted(results.CORPUS_ORDER)
        assert all(named[tokenizer] in label for label in labels.values()), labels
    assert not any("reproduced" in label for label in results.VERDICT_LABELS["melvq"].values())
    assert all("by construction" in results.VERDICT_LABELS["melvq"][v] for v in ("agrees", "better than the paper"))


def test_the_results_page_states_the_rule_the_code_applies():
    page = (REPO_ROOT / "docs" / "results.md").read_text()
    assert wl.verdict_rule().strip() in page


# --- early stopping ---------------------------------------------------------------------


def stopping_run(speech, folder, **kwargs):
    # A learning rate high enough that validation gets worse after a few epochs of 2 steps.
    config = wl.train_config("smoke", steps=40, epoch_steps=2, lr=3e-2, warmup_steps=1, patience=2)
    model = wl.build_model("gpt-s", "smoke", vocab_size=speech.tokenizer.vocab_size)
    run = wl.RunInfo(model="gpt-s", preset="smoke", corpus="sample-speech", tokenizer="melvq")
    torch.manual_seed(0)
    return wl.train_in_folder(
        model, speech.train, speech.validation, config, folder, run, progress=False, **kwargs
    ), model


def test_early_stopping_keeps_the_best_weights_and_returns_their_evaluation(speech, tmp_path):
    final, model = stopping_run(speech, tmp_path)
    evals = read_metrics(tmp_path / METRICS, "eval")
    stop = read_metrics(tmp_path / METRICS, "stop")
    assert len(stop) == 1 and stop[0]["step"] < 40, "it stopped before the budget"
    best = min(evals, key=lambda r: r["nll"])
    assert final == best and stop[0]["best_step"] == best["step"]
    assert all(r["nll"] >= best["nll"] for r in evals if r["step"] > best["step"])
    assert len([r for r in evals if r["step"] > best["step"]]) == 2, "patience 2: two evaluations without progress"
    saved = load_checkpoint(tmp_path / BEST)
    assert saved["step"] == best["step"]
    assert all(torch.equal(saved["model"][k], v) for k, v in model.state_dict().items()), "the model leaves best"
    precision = pick_precision(pick_device(None))  # as train evaluated (bf16 autocast on CPUs that have it)
    assert wl.evaluate(model, speech.validation, precision=precision)["nll"] == pytest.approx(best["nll"], abs=1e-6)


def test_an_interrupted_early_stopping_run_resumes_to_the_same_result(speech, tmp_path):
    straight, _ = stopping_run(speech, tmp_path / "straight")
    assert wl.stop_reason(tmp_path / "straight", 40) == "early stopping"
    stopping_run(speech, tmp_path / "resumed", until=4)
    assert wl.stop_reason(tmp_path / "resumed", 40) is None, "interrupted: not finished"
    assert wl.stop_reason(tmp_path / "never", 40) is None
    resumed, _ = stopping_run(speech, tmp_path / "resumed", resume=True)
    strip = ("seconds",)
    assert {k: v for k, v in resumed.items() if k not in strip} == {k: v for k, v in straight.items() if k not in strip}
    assert (
        read_metrics(tmp_path / "resumed" / METRICS, "stop")[0]["step"]
        == read_metrics(tmp_path / "straight" / METRICS, "stop")[0]["step"]
    )
    again, _ = stopping_run(speech, tmp_path / "resumed", resume=True)  # a finished run is only re-scored
    assert (
        again["step"] == straight["step"]
        and load_checkpoint(tmp_path / "resumed" / CHECKPOINT)["early_stopping"]["stopped"]
    )


# --- controls ---------------------------------------------------------------------------


def test_controls_really_change_the_mel():
    mel = torch.randn(4, 6, 64)
    assert control_mel(mel, "true") is mel
    assert control_mel(mel, "zeros").abs().sum() == 0
    assert torch.equal(control_mel(mel, "other-clip")[0], mel[2]) and torch.equal(
        control_mel(mel, "other-clip")[2], mel[0]
    )
    assert (
        torch.equal(control_mel(mel, "behind")[:, 1:], mel[:, :-1])
        and control_mel(mel, "behind")[:, 0].abs().sum() == 0
    )
    assert torch.equal(control_mel(mel, "ahead")[:, :-1], mel[:, 1:])
    lagged = control_mel(mel, "lagged")
    assert torch.equal(lagged[:, 3:], mel[:, :-3]) and lagged[:, :3].abs().sum() == 0
    tokens = torch.randint(0, 8, (4, 6))
    assert control_batch((tokens, mel), "zeros")[0] is tokens, "the tokens never change"
    with pytest.raises(TrainingError, match="unknown mel control 'future'; choose one of true, other-clip"):
        control_mel(mel, "future")


def test_the_controls_table_shows_what_every_corpus_was_scored_with():
    before_lagged = {"true": 3.0, "other-clip": 6.5, "zeros": 7.0, "behind": 3.2, "ahead": 3.1}  # a stored study's
    table = wl.controls_table({"mini-music": {"nll": before_lagged}, "mini-speech": {"nll": before_lagged}})
    assert table.splitlines()[0] == "| data | true | other-clip | zeros | behind | ahead |"
    assert "| mini-music | 3.000 | 6.500 (+3.500) | 7.000 (+4.000) | 3.200 (+0.200) | 3.100 (+0.100) |" in table
    now = wl.controls_table({"mini-music": {"nll": {**before_lagged, "lagged": 3.4}}})
    assert now.splitlines()[0].endswith("| ahead | lagged |") and now.splitlines()[2].endswith("| 3.400 (+0.400) |")


def test_training_with_a_control_feeds_the_model_that_mel(speech, tmp_path):
    seen = []
    model = wl.build_model("hybrid", "smoke", vocab_size=speech.tokenizer.vocab_size)
    model.mel_encoder.proj.register_forward_hook(lambda module, args, out: seen.append(args[0].abs().sum().item()))
    run = wl.RunInfo(model="hybrid", preset="smoke", corpus="sample-speech", tokenizer="melvq")
    config = wl.train_config("smoke", steps=2, epoch_steps=2, mel_control="zeros")
    wl.train_in_folder(model, speech.train, speech.validation, config, tmp_path, run, progress=False)
    assert seen and all(total == 0 for total in seen), "training and evaluation both saw zeros"
    scores = {c: wl.evaluate(model, control_batch(speech.validation, c))["nll"] for c in ("true", "zeros")}
    assert scores["true"] != scores["zeros"]


def test_position_nll_averages_to_the_evaluation(speech):
    model = wl.build_model("hybrid", "smoke", vocab_size=speech.tokenizer.vocab_size)
    curve = position_nll(model, speech.validation)
    assert curve.shape == (speech.validation[0].shape[1] - 1,)
    assert curve.mean().item() == pytest.approx(wl.evaluate(model, speech.validation)["nll"], rel=1e-5)


# --- baselines --------------------------------------------------------------------------


def test_baselines_are_distributions_fitted_on_training_and_scored_on_the_crops(speech):
    streams = token_streams(speech.train)
    for table in (fit_repeat(streams, 1024), fit_bigram(streams, 1024)):
        assert torch.allclose(table.exp().sum(1), torch.ones(1024, dtype=torch.float64))
    tokens = speech.validation[0]
    repeat = score_baseline(fit_repeat(streams, 1024), speech.validation)
    assert repeat["acc"] == pytest.approx((tokens[:, 1:] == tokens[:, :-1]).double().mean().item())
    bigram = fit_bigram(streams, 1024)
    seen_pair = (streams[0][0].item(), streams[0][1].item())
    assert bigram[seen_pair].exp() > bigram[seen_pair[0]].exp().median(), "a seen pair beats an unseen one"


def test_the_table_shows_baselines_seeds_and_validation_beside_test():
    rows = [
        {"corpus": "mini-music", "model": "bigram", "tokenizer": "melvq", "split": "test", "params": 0,
         "nll": 1.7, "acc": 0.7, "validation_nll": 1.8},
        *[{"corpus": "mini-music", "model": "hybrid", "tokenizer": "melvq", "split": "test", "params": 250880,
           "seed": s, "nll": nll, "acc": 0.75, "validation_nll": 1.1} for s, nll in ((0, 1.0), (1, 1.2))],
    ]  # fmt: skip
    table = results_table(rows)
    assert "| mini-music | smoothed bigram (baseline) | - | - | 1.800 | 1.700 | 70.00% |" in table
    assert "| mini-music | Hybrid (mel + tokens) | 0.25M | 2 | 1.100 ± 0.000 | 1.100 ± 0.141 | 75.00% | 3.00 |" in table


# --- ablations --------------------------------------------------------------------------


def test_fusion_by_sum_is_causal_and_full_width():
    model = wl.build_model("hybrid", "smoke", fusion="sum")
    assert model.wte.embedding_dim == model.config.n_embd
    influence = wl.mel_influence(model, torch.randint(0, 1024, (12,)), torch.randn(12, wl.N_MELS))
    assert influence.triu(diagonal=1).abs().max() == 0 and influence.diagonal().min() > 0
    with pytest.raises(ModelError, match="unknown fusion 'product'"):
        wl.build_model("hybrid", "smoke", fusion="product")


def test_variations_parse_or_are_refused_in_one_line():
    assert parse_variations(["context=64", "mel_control=ahead,lagged"]) == [
        ("context=64", {"context": 64}),
        ("mel_control=ahead", {"mel_control": "ahead"}),
        ("mel_control=lagged", {"mel_control": "lagged"}),
    ]
    for bad, message in (
        ("width=3", "SETTING one of d_mel"),
        ("d_mel=wide", "d_mel takes whole numbers"),
        ("d_mel=-8", "d_mel takes whole numbers of at least 1, not '-8'"),
        ("n_mel_layer=-1", "n_mel_layer takes whole numbers of at least 0"),
        ("mel_control=later", "unknown mel control"),
    ):
        with pytest.raises(TrainingError, match=message):
            parse_variations([bad])


def test_a_sweep_pairs_each_variant_with_the_base_seed_by_seed(tmp_path):
    rows = sweep(
        "smoke",
        "sample-music",
        parse_variations(["n_mel_layer=2"]),
        seeds=2,
        tokenizer="melvq",
        out=tmp_path,
        progress=False,
        steps=4,
    )
    assert [row["variant"] for row in rows] == ["base", "n_mel_layer=2"]
    saved = json.loads((tmp_path / "sweep-sample-music.json").read_text())
    runs = {(r["variant"], r["model"], r["seed"]): r["nll"] for r in saved["runs"]}
    expected = [runs["n_mel_layer=2", "hybrid", s] - runs["base", "hybrid", s] for s in (0, 1)]
    assert rows[1]["minus_base"]["mean"] == pytest.approx(sum(expected) / 2)
    assert (tmp_path / "sweep-sample-music.png").stat().st_size > 0
    assert "| n_mel_layer=2 |" in (tmp_path / "sweep-sample-music.md").read_text()


@pytest.mark.parametrize(
    "vary, told",
    [
        ("fusion=product", "--vary fusion=product: unknown fusion 'product'; choose concat (the paper's) or sum"),
        ("d_mel=32", "--vary d_mel=32: d_mel 32 leaves the tokens no width"),  # smoke's n_embd is 32
        ("n_mel_head=3", "--vary n_mel_head=3: a width of 8 does not split into 3 attention heads"),
        ("context=100000", "--vary context=100000: sample-music/validation: no clip holds 100001 frames"),
    ],
)
def test_a_variant_the_hybrid_cannot_take_is_refused_before_anything_trains(vary, told, tmp_path):
    out = tmp_path / "results"
    with pytest.raises(TrainingError) as refused:
        sweep("smoke", "sample-music", parse_variations(["n_mel_layer=2", vary]), tokenizer="melvq", out=out)
    assert str(refused.value).startswith(told)
    assert not out.exists(), "no run folder, no checkpoint"


def test_a_checkpoint_from_before_a_setting_existed_counts_as_its_default(speech, tmp_path):
    config = wl.train_config("smoke", steps=4, epoch_steps=2)
    run = wl.RunInfo(model="hybrid", preset="smoke", corpus="sample-speech", tokenizer="melvq")

    def resume(config):
        model = wl.build_model("hybrid", "smoke", vocab_size=speech.tokenizer.vocab_size)
        return wl.train_in_folder(
            model, speech.train, speech.validation, config, tmp_path, run, resume=True, progress=False
        )

    wl.train_in_folder(
        wl.build_model("hybrid", "smoke", vocab_size=speech.tokenizer.vocab_size),
        speech.train, speech.validation, config, tmp_path, run, until=2, progress=False,
    )  # fmt: skip
    checkpoint = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    del checkpoint["model_config"]["fusion"], checkpoint["train_config"]["patience"]  # as an older kit wrote them
    save_tensors(tmp_path / CHECKPOINT, checkpoint)
    with pytest.raises(wl.CheckpointError, match=r"patience 0 \(this run: 2\)"):
        resume(wl.train_config("smoke", steps=4, epoch_steps=2, patience=2))
    assert resume(config)["step"] == 4
