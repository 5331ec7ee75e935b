"""Training and evaluation on synthetic features: learning, exact resume, determinism, bad input."""

import json

import numpy as np
import pytest
import torch
from datasets import Dataset

import wgpt_lite as wl
from wgpt_lite.batches import eval_crops
from wgpt_lite.infra.errors import CheckpointError, TrainingError
from wgpt_lite.infra.files import save_tensors
from wgpt_lite.presets import train_config
from wgpt_lite.runs.checkpoint import load_checkpoint, model_from_checkpoint
from wgpt_lite.runs.run_folder import read_metrics, train_in_folder
from wgpt_lite.train import RunInfo, evaluate, lr_factor

CONFIG = train_config("smoke")  # 20 steps, epochs of 5 steps, context 32


def synthetic_features(n_clips=6, frames=200, vocab=32, seed=0, nan_mel=False) -> Dataset:
    """Rows shaped like ``wl.features``: tokens walk up by one (mostly), mel codes the next token."""
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(vocab, wl.N_MELS))
    rows = {"id": [], "tokens": [], "mel": [], "seconds": []}
    for clip in range(n_clips):
        tokens = (
            rng.integers(vocab) + np.arange(frames) + (rng.random(frames) < 0.2) * rng.integers(vocab, size=frames)
        ) % vocab
        mel = np.roll(codes[tokens], -1, axis=0) + 0.5 * rng.normal(size=(frames, wl.N_MELS))
        if nan_mel:
            mel[:] = np.nan
        rows["id"].append(f"clip{clip}")
        rows["tokens"].append(tokens.astype(np.int16))
        rows["mel"].append(mel.astype(np.float16))
        rows["seconds"].append(frames / wl.FRAME_RATE)
    return Dataset.from_dict(rows)


@pytest.fixture(scope="module")
def data():
    return synthetic_features(), eval_crops(synthetic_features(seed=1), CONFIG.context, CONFIG.eval_crops, seed=0)


def run_info(model="hybrid", preset="smoke"):
    return RunInfo(model=model, preset=preset, corpus="synthetic", tokenizer="melvq")


def fresh_model(name="hybrid", preset="smoke"):
    torch.manual_seed(0)
    return wl.build_model(name, preset)


def test_a_few_smoke_steps_lower_the_loss_and_log_everything(data, tmp_path):
    train_ds, eval_batch = data
    model = fresh_model()
    before = evaluate(model, eval_batch)
    after = train_in_folder(model, train_ds, eval_batch, CONFIG, tmp_path, run_info(), progress=False)
    assert after["nll"] < before["nll"] - 0.5, (before, after)
    assert after["ppl"] == pytest.approx(np.exp(after["nll"]))
    header, *records = read_metrics(tmp_path / "metrics.jsonl")
    assert header["kind"] == "run" and header["tokenizer"] == "melvq" and header["params"] == model.num_params()
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 21))
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["epoch"] for r in evals] == [1, 2, 3, 4] and all(r["tokenizer"] == "melvq" for r in evals)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 20


def test_resume_after_an_interruption_reproduces_the_uninterrupted_curve(data, tmp_path):
    train_ds, eval_batch = data
    train_in_folder(fresh_model(), train_ds, eval_batch, CONFIG, tmp_path / "straight", run_info(), progress=False)
    # Interrupted after step 7 (mid-epoch), then resumed by a new process's worth of objects.
    train_in_folder(
        fresh_model(), train_ds, eval_batch, CONFIG, tmp_path / "resumed", run_info(), until=7, progress=False
    )
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 7
    assert wl.stop_reason(tmp_path / "resumed", CONFIG.steps) is None, "interrupted: not finished"
    torch.manual_seed(123)  # whatever the global RNG holds now must not matter
    train_in_folder(
        wl.build_model("hybrid", "smoke"),
        train_ds,
        eval_batch,
        CONFIG,
        tmp_path / "resumed",
        run_info(),
        resume=True,
        progress=False,
    )
    straight, resumed = (
        [without_timing(r) for r in read_metrics(tmp_path / name / "metrics.jsonl")] for name in ("straight", "resumed")
    )
    assert straight[1:] == resumed[1:]  # every loss and eval, exactly
    assert wl.stop_reason(tmp_path / "resumed", CONFIG.steps) == "the budget's end"


def without_timing(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "seconds"}


def test_killed_run_resumes_from_the_last_checkpoint(data, tmp_path):
    train_ds, eval_batch = data
    train_in_folder(fresh_model(), train_ds, eval_batch, CONFIG, tmp_path, run_info(), until=5, progress=False)
    with open(tmp_path / "metrics.jsonl", "a") as log:  # what a kill after step 5 leaves behind
        log.write(json.dumps({"kind": "train", "step": 6, "epoch": 1.2, "loss": 9.0, "lr": 0.0}) + '\n{"kind": "tr')
    (tmp_path / "checkpoint.pt.tmp-999").write_bytes(b"half a checkpoint")
    train_in_folder(fresh_model(), train_ds, eval_batch, CONFIG, tmp_path, run_info(), resume=True, progress=False)
    steps = [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl", "train")]
    assert steps == list(range(1, 21))


def test_evaluation_is_deterministic_and_the_crops_are_fixed(data):
    train_ds, _ = data
    first, second = (eval_crops(train_ds, 32, 8, seed=0) for _ in range(2))
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    for name in ("gpt-s", "gpt-l", "hybrid"):
        model = fresh_model(name)
        assert evaluate(model, first, batch_size=3) == evaluate(model, second, batch_size=3)
        assert evaluate(model, first, batch_size=8) == pytest.approx(evaluate(model, first, batch_size=3))


def test_warmup_then_cosine():
    assert lr_factor(0, CONFIG) == pytest.approx(1 / CONFIG.warmup_steps)
    assert lr_factor(CONFIG.warmup_steps, CONFIG) == pytest.approx(1.0)
    assert lr_factor(CONFIG.steps, CONFIG) == pytest.approx(CONFIG.min_lr_ratio)


def test_checkpoint_of_another_model_or_preset_is_refused_by_name(data, tmp_path):
    train_ds, eval_batch = data
    train_in_folder(
        fresh_model("gpt-s"), train_ds, eval_batch, CONFIG, tmp_path, run_info("gpt-s"), until=2, progress=False
    )
    with pytest.raises(CheckpointError, match="model 'gpt-s' \\(this run: 'hybrid'\\)"):
        train_in_folder(fresh_model("hybrid"), train_ds, eval_batch, CONFIG, tmp_path, run_info("hybrid"), resume=True)
    with pytest.raises(CheckpointError, match="preset 'smoke' \\(this run: 'mini'\\)"):
        train_in_folder(
            fresh_model("gpt-s", "mini"), train_ds, eval_batch, CONFIG, tmp_path, run_info("gpt-s", "mini"), resume=True
        )
    with pytest.raises(CheckpointError, match="steps 20 \\(this run: 30\\)"):
        train_in_folder(
            fresh_model("gpt-s"),
            train_ds,
            eval_batch,
            train_config("smoke", steps=30),
            tmp_path,
            run_info("gpt-s"),
            resume=True,
        )
    with pytest.raises(CheckpointError, match="--resume"):
        train_in_folder(fresh_model("gpt-s"), train_ds, eval_batch, CONFIG, tmp_path, run_info("gpt-s"))
    model, checkpoint = model_from_checkpoint(tmp_path / "checkpoint.pt")
    assert checkpoint["run"]["model"] == "gpt-s" and model.num_params() == fresh_model("gpt-s").num_params()


def test_data_made_in_memory_has_no_provenance_and_never_resumes_on_cached_features(data, tmp_path):
    train_ds, eval_batch = data
    train_in_folder(fresh_model(), train_ds, eval_batch, CONFIG, tmp_path, run_info(), until=2, progress=False)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["provenance"] is None
    assert read_metrics(tmp_path / "metrics.jsonl", "run")[0]["provenance"] is None
    cached = wl.features("sample-music", "validation", "melvq")
    with pytest.raises(CheckpointError, match="no recorded origin .* at training, features of sample-music now"):
        train_in_folder(fresh_model(), cached, eval_batch, CONFIG, tmp_path, run_info(), resume=True, progress=False)


def test_unreadable_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(data, tmp_path):
    train_ds, eval_batch = data
    train_in_folder(fresh_model(), train_ds, eval_batch, CONFIG, tmp_path, run_info(), until=5, progress=False)
    with pytest.raises(TrainingError, match="at step 6.*checkpoint of step 5"):
        train_in_folder(
            fresh_model(),
            synthetic_features(nan_mel=True),
            eval_batch,
            CONFIG,
            tmp_path,
            run_info(),
            resume=True,
            progress=False,
        )
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 5


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(TrainingError, match="paper, mini, smoke"):
        train_config("huge")


def test_reproduce_on_the_sample_writes_table_curves_and_logs_then_resumes(tmp_path, monkeypatch):
    from wgpt_lite.experiment.reproduce import reproduce

    monkeypatch.setenv("WGPT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WGPT_OFFLINE", "1")  # auto -> the kit's codec, without trying the network
    out = tmp_path / "run"
    rows = reproduce("smoke", ["sample-speech"], out=out, models=("gpt-s", "hybrid"), progress=False, steps=6)
    assert [row["model"] for row in rows] == ["repeat", "bigram", "gpt-s", "hybrid"]
    assert {row["tokenizer"] for row in rows} == {"codec"}
    table = (out / "results.md").read_text()
    assert "codec tokens" in table and "| sample-speech | Hybrid (mel + tokens) |" in table and "2.02" in table
    assert (out / "curves.png").stat().st_size > 10_000
    logs = {name: read_metrics(out / "sample-speech" / name / "metrics.jsonl") for name in ("gpt-s", "hybrid")}
    assert all(records[0]["tokenizer"] == "codec" for records in logs.values())
    # Run again: both models are finished, so nothing is trained and the numbers are the same.
    assert reproduce("smoke", ["sample-speech"], out=out, models=("gpt-s", "hybrid"), progress=False, steps=6) == rows
    assert logs == {name: read_metrics(out / "sample-speech" / name / "metrics.jsonl") for name in ("gpt-s", "hybrid")}


def test_weights_of_another_layer_layout_are_refused_in_words(data, tmp_path):
    train_ds, eval_batch = data
    train_in_folder(
        fresh_model("hybrid"), train_ds, eval_batch, CONFIG, tmp_path, run_info("hybrid"), until=2, progress=False
    )
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    checkpoint["model"]["mel_encoder.ln.weight"] = torch.ones(8)  # as an older kit's mel encoder had
    save_tensors(tmp_path / "checkpoint.pt", checkpoint)
    with pytest.raises(CheckpointError, match="another version of the WhisperGPT layers.*mel_encoder.ln.weight"):
        model_from_checkpoint(tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="checkpoint.pt holds weights"):
        train_in_folder(
            fresh_model("hybrid"),
            train_ds,
            eval_batch,
            CONFIG,
            tmp_path,
            run_info("hybrid"),
            resume=True,
            progress=False,
        )
