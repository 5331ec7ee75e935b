"""The mel-frame probe: it finds a next token that mel frame t spells, finds none where the mel says nothing,
and is scored on exactly the crops and positions a reproduction scored its models on."""

import json
import math

import numpy as np
import pytest
import torch
from datasets import Dataset

import wgpt_lite as wl
from wgpt_lite.cli import main
from wgpt_lite.experiment.baselines import fit_bigram, score_baseline
from wgpt_lite.experiment.probe import PROBE, fit_probe, mel_frame_probe, probe_table, probe_verdict, score_probe
from wgpt_lite.experiment.reproduce import scoring_crops
from wgpt_lite.experiment.stats import token_streams
from wgpt_lite.infra.files import write_json
from wgpt_lite.presets import train_config

VOCAB = 16
CONTEXT = 32
STEPS = 150  # enough for the probe to learn a noiseless code of 16 tokens


def features(mel_tells_next: bool, seed: int, n_clips: int = 6, frames: int = 300) -> Dataset:
    """Rows shaped like ``wl.features``. With ``mel_tells_next``, tokens are drawn independently and mel frame t
    codes token t+1 (a bigram can do no better than guessing); without, tokens mostly step up by one (a bigram
    predicts them well) and the mel is noise that says nothing about them."""
    rng = np.random.default_rng(seed)
    codes = np.random.default_rng(123).normal(size=(VOCAB, wl.N_MELS))  # one code per token, the same in every split
    rows = {"id": [], "tokens": [], "mel": [], "seconds": []}
    for clip in range(n_clips):
        if mel_tells_next:
            tokens = rng.integers(VOCAB, size=frames)
            mel = np.roll(codes[tokens], -1, axis=0)  # frame t holds token t+1's code (the last wraps: no target)
        else:
            steps = np.where(rng.random(frames) < 0.9, 1, rng.integers(VOCAB, size=frames))
            tokens = np.cumsum(steps) % VOCAB
            mel = rng.normal(size=(frames, wl.N_MELS))
        rows["id"].append(f"clip{clip}")
        rows["tokens"].append(tokens.astype(np.int16))
        rows["mel"].append(mel.astype(np.float16))
        rows["seconds"].append(frames / wl.FRAME_RATE)
    return Dataset.from_dict(rows)


def probe_and_bigram(mel_tells_next: bool) -> tuple[dict, dict]:
    train, test = features(mel_tells_next, seed=0), features(mel_tells_next, seed=1)
    crops = wl.eval_crops(test, CONTEXT, n_crops=16)
    probe = fit_probe(train, VOCAB, steps=STEPS)
    return score_probe(probe, crops), score_baseline(fit_bigram(token_streams(train), VOCAB), crops)


def test_a_mel_frame_that_spells_the_next_token_beats_the_bigram_by_far():
    probe, bigram = probe_and_bigram(mel_tells_next=True)
    assert bigram["nll"] > math.log(VOCAB) - 0.1  # independent tokens: the previous one tells nothing
    assert probe["nll"] < 0.2 and probe["acc"] > 0.97, probe  # mel frame t is read, and t+1 is what it predicts


def test_a_mel_frame_that_says_nothing_does_not_beat_the_bigram():
    probe, bigram = probe_and_bigram(mel_tells_next=False)
    assert bigram["nll"] < 1.0  # the tokens step up by one: the previous token tells a lot
    assert probe["nll"] > math.log(VOCAB) - 0.2, probe  # the mel is noise: no better than the token frequencies
    assert probe["nll"] > bigram["nll"] + 1.0


def test_the_probe_scores_tokens_1_to_T_of_each_crop():
    tokens = torch.tensor([[3, 5, 5, 7], [5, 5, 1, 2]])
    probe = fit_probe(features(True, seed=0), VOCAB, steps=1)
    with torch.no_grad():  # a probe that always says "5", nearly sure: its accuracy counts the targets
        probe.mlp[-1].weight.zero_()
        probe.mlp[-1].bias.copy_(torch.full((VOCAB,), -20.0).index_fill_(0, torch.tensor([5]), 0.0))
    scores = score_probe(probe, (tokens, torch.zeros(2, 4, wl.N_MELS)))
    assert scores["acc"] == pytest.approx(3 / 6)  # targets 5 5 7 | 5 1 2; frame 0 of a crop is never a target
    assert scores["nll"] == pytest.approx(3 / 6 * 20, rel=1e-3)  # 20 nats for each target that is not a 5


def test_fitting_is_deterministic():
    train, crops = features(True, seed=0), wl.eval_crops(features(True, seed=1), CONTEXT, n_crops=4)
    first, second = (score_probe(fit_probe(train, VOCAB, steps=20, seed=3), crops) for _ in range(2))
    assert first == second


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    """GPT-S and the hybrid of a smoke reproduction on sample-speech, as the kit writes them."""
    out = tmp_path_factory.mktemp("reproduction")
    with pytest.MonkeyPatch.context() as mp:  # the function-scoped isolated home is not set up yet
        mp.setenv("WGPT_HOME", str(tmp_path_factory.mktemp("home")))
        rows = wl.reproduce("smoke", ["sample-speech"], "melvq", out, models=("gpt-s", "hybrid"), progress=False)
    return out, rows


def test_the_probe_sits_beside_the_models_on_the_very_crops_they_were_scored_on(reproduction):
    out, reproduced = reproduction
    rows = mel_frame_probe("sample-speech", "melvq", "smoke", results=out, steps=20)
    by_model = {row["model"]: row for row in rows}
    for row in reproduced:  # baselines recomputed here, models read back: the same numbers
        assert by_model[row["model"]]["nll"] == pytest.approx(row["nll"], abs=1e-12), row["model"]
        assert by_model[row["model"]]["split"] == row["split"] == "validation"
    assert "1 seed(s)" in by_model["gpt-s"]["note"]
    # the probe's row is its score on the models' scoring crops: the same windows, the same targets
    data = wl.features("sample-speech", "train", wl.corpus_tokenizer("sample-speech", "melvq"))
    crops = scoring_crops("sample-speech", "validation", "melvq", train_config("smoke"))
    probe = fit_probe(data, 128, steps=20)
    assert by_model[PROBE]["nll"] == score_probe(probe, crops)["nll"]
    assert ("beats GPT-S" in probe_verdict(rows)) == (by_model[PROBE]["nll"] < by_model["gpt-s"]["nll"])


def test_models_scored_on_other_crops_or_tokens_are_not_compared(reproduction, tmp_path):
    out, _ = reproduction
    recorded = json.loads((out / "results.json").read_text())
    (tmp_path / "crops").mkdir()
    bigram = next(row for row in recorded["rows"] if row["model"] == "bigram")
    bigram["nll"] += 0.01  # as if its crops had been other windows
    write_json(tmp_path / "crops" / "results.json", recorded)
    (tmp_path / "tokens").mkdir()
    recorded["provenance"]["sample-speech"]["tokenizer"]["codebook_sha256"] = "0" * 64
    write_json(tmp_path / "tokens" / "results.json", recorded)
    for folder, why in [
        ("crops", "scored on other crops"),
        ("tokens", "trained on other data"),
        ("none", "not trained"),
    ]:
        rows = mel_frame_probe("sample-speech", "melvq", "smoke", results=tmp_path / folder, steps=1)
        models = [row for row in rows if row["model"] in ("gpt-s", "hybrid")]
        assert [row["nll"] for row in models] == [None, None] and all(why in row["note"] for row in models), folder
        assert "no comparison with it" in probe_verdict(rows)


def test_the_command_prints_the_table(capsys, tmp_path):
    argv = ["probe", "--corpus", "sample-speech", "--tokenizer", "melvq", "--preset", "smoke", "--steps", "5"]
    assert main([*argv, "--results", str(tmp_path), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| MLP on mel frame t (probe) | mel frame t |" in printed and "GPT-S is not trained" in printed
    assert printed == probe_table(mel_frame_probe("sample-speech", "melvq", "smoke", results=tmp_path, steps=5))
