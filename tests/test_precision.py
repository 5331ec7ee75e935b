"""The GPU code paths of ``train``, run on the CPU: fp16 autocast with loss scaling, and torch.compile.

A T4 has no bf16, so it trains in fp16 autocast with a ``GradScaler``, which skips every
step whose scaled gradients overflow. Torch has float16 autocast and a GradScaler on the
CPU too, and ``WGPT_PRECISION=fp16`` makes ``train`` pick them: these tests run the very
loop a T4 runs (scaling, unscaling, clipping, skipped steps, checkpoints), without a GPU.
"""

import functools
from dataclasses import replace

import pytest
import torch
from test_train import CONFIG, fresh_model, run_info, synthetic_features, without_timing
from torch._dynamo.testing import CompileCounterWithBackend

from wgpt_lite.batches import eval_crops
from wgpt_lite.runs.checkpoint import load_checkpoint
from wgpt_lite.runs.run_folder import read_metrics, train_in_folder
from wgpt_lite.train import evaluate

# A skipped first step means the LR scheduler steps before the optimizer ever has: expected here.
SKIPPED_STEPS_WARNING = "ignore:Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"

DEFAULT_SCALE = 2.0**16  # GradScaler's initial loss scale
OVERFLOWING_SCALE = 2.0**24  # the smoke hybrid's scaled gradients overflow fp16 until it has halved 6 times


@pytest.fixture(scope="module")
def data():
    return synthetic_features(), eval_crops(synthetic_features(seed=1), CONFIG.context, CONFIG.eval_crops, seed=0)


@pytest.fixture
def fp16(monkeypatch):
    monkeypatch.setenv("WGPT_PRECISION", "fp16")


def start_loss_scale(monkeypatch, scale: float) -> None:
    """Make the GradScaler that ``train`` creates start at ``scale``."""
    monkeypatch.setattr(torch.amp, "GradScaler", functools.partial(torch.amp.GradScaler, init_scale=scale))


def train_losses(run_dir) -> list[float]:
    return [record["loss"] for record in read_metrics(run_dir / "metrics.jsonl", "train")]


def test_fp16_training_learns_and_checkpoints_its_loss_scale(data, fp16, tmp_path):
    train_ds, eval_batch = data
    model = fresh_model()
    before = evaluate(model, eval_batch, precision="fp16")
    after = train_in_folder(model, train_ds, eval_batch, CONFIG, tmp_path, run_info(), progress=False)
    assert read_metrics(tmp_path / "metrics.jsonl", "run")[0]["precision"] == "fp16"
    assert all(torch.isfinite(torch.tensor(train_losses(tmp_path))))
    assert after["nll"] < before["nll"] - 0.5, (before, after)
    scaler = load_checkpoint(tmp_path / "checkpoint.pt")["scaler"]
    assert scaler["scale"] == DEFAULT_SCALE and scaler["_growth_tracker"] == CONFIG.steps  # no step overflowed


@pytest.mark.filterwarnings(SKIPPED_STEPS_WARNING)
def test_fp16_overflowing_steps_are_skipped_and_leave_the_weights_intact(data, fp16, tmp_path, monkeypatch):
    train_ds, eval_batch = data
    start_loss_scale(monkeypatch, OVERFLOWING_SCALE)
    initial = fresh_model().state_dict()
    train_in_folder(fresh_model(), train_ds, eval_batch, CONFIG, tmp_path, run_info(), until=6, progress=False)
    after_overflows = load_checkpoint(tmp_path / "checkpoint.pt")
    assert all(torch.equal(after_overflows["model"][name], weight) for name, weight in initial.items())
    assert after_overflows["optimizer"]["state"] == {}  # AdamW never stepped
    assert after_overflows["scaler"]["scale"] == OVERFLOWING_SCALE / 2**6  # halved at each skipped step

    final = train_in_folder(
        fresh_model(), train_ds, eval_batch, CONFIG, tmp_path, run_info(), resume=True, progress=False
    )
    checkpoint = load_checkpoint(tmp_path / "checkpoint.pt")
    assert checkpoint["optimizer"]["state"][0]["step"] == CONFIG.steps - 6  # every later step was applied
    assert all(torch.isfinite(weight).all() for weight in checkpoint["model"].values())
    assert final["nll"] < evaluate(fresh_model(), eval_batch, precision="fp16")["nll"] - 0.3


@pytest.mark.filterwarnings(SKIPPED_STEPS_WARNING)
def test_fp16_resume_restores_the_loss_scale_and_reproduces_the_run(data, fp16, tmp_path, monkeypatch):
    train_ds, eval_batch = data
    start_loss_scale(monkeypatch, OVERFLOWING_SCALE)  # the scale changes early, so that resuming must restore it
    train_in_folder(fresh_model(), train_ds, eval_batch, CONFIG, tmp_path / "straight", run_info(), progress=False)
    train_in_folder(
        fresh_model(), train_ds, eval_batch, CONFIG, tmp_path / "resumed", run_info(), until=4, progress=False
    )
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["scaler"]["scale"] == OVERFLOWING_SCALE / 2**4
    train_in_folder(
        fresh_model(), train_ds, eval_batch, CONFIG, tmp_path / "resumed", run_info(), resume=True, progress=False
    )
    straight, resumed = (
        [without_timing(r) for r in read_metrics(tmp_path / name / "metrics.jsonl")] for name in ("straight", "resumed")
    )
    assert straight[1:] == resumed[1:]  # every loss and eval, exactly
    final_scalers = (load_checkpoint(tmp_path / name / "checkpoint.pt")["scaler"] for name in ("straight", "resumed"))
    assert next(final_scalers) == next(final_scalers)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_compiled_training_gives_the_eager_losses(precision, data, tmp_path, monkeypatch):
    # train_in_folder() compiles with torch's default backend, inductor, which spends about 45 s on this
    # 2-core CPU generating and building C++ kernels for this 20-step run. aot_eager goes through
    # the same capture (dynamo's graphs of the training and evaluation forwards, AOTAutograd's
    # joint forward and backward) and runs the captured graphs with eager kernels: seconds.
    monkeypatch.setenv("WGPT_PRECISION", precision)
    torch.compiler.reset()  # graphs compiled by another test must not serve this one
    backend = CompileCounterWithBackend("aot_eager")
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend=backend))
    train_ds, eval_batch = data
    eager = train_in_folder(fresh_model(), train_ds, eval_batch, CONFIG, tmp_path / "eager", run_info(), progress=False)
    assert backend.frame_count == 0
    compiled_config = replace(CONFIG, compile=True)
    compiled = train_in_folder(
        fresh_model(), train_ds, eval_batch, compiled_config, tmp_path / "compiled", run_info(), progress=False
    )
    assert backend.frame_count > 0  # the steps ran through compiled graphs
    assert train_losses(tmp_path / "compiled") == pytest.approx(train_losses(tmp_path / "eager"), abs=1e-4)
    assert compiled["nll"] == pytest.approx(eager["nll"], abs=1e-4)


def test_a_run_begun_in_bf16_or_fp32_resumes_in_fp16(data, tmp_path, monkeypatch):
    # Begun on an A100 (bf16), resumed on a T4 (fp16): no loss scale was saved, so fp16 starts a fresh one.
    train_ds, eval_batch = data
    monkeypatch.setenv("WGPT_PRECISION", "fp32")
    train_in_folder(fresh_model(), train_ds, eval_batch, CONFIG, tmp_path, run_info(), until=7, progress=False)
    monkeypatch.setenv("WGPT_PRECISION", "fp16")
    train_in_folder(fresh_model(), train_ds, eval_batch, CONFIG, tmp_path, run_info(), resume=True, progress=False)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["scaler"]["scale"] == DEFAULT_SCALE
