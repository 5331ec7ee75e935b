"""Several processes: two CPU ranks (gloo, torchrun) train the curve of one process with the whole batch,
resume it, refuse a batch that does not split; the feature cache fills in shards, by workers, and resumes."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from ddp_helper import BUDGET, run

import wgpt_lite as wl
import wgpt_lite.data.feature_cache as feat
from wgpt_lite.cli import main
from wgpt_lite.runs.run_folder import read_metrics

HELPER = Path(__file__).with_name("ddp_helper.py")
# Two ranks sum their gradients in another order than one process sums its batch: equal up to
# float32 rounding (measured: about 1e-7 relative; allowed: 1e-5, far below a step's change).
RTOL = 1e-5


def torchrun(*args: str) -> None:
    """tests/ddp_helper.py ``args`` in 2 CPU processes (gloo), fp32, on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1"]
    env = {**os.environ, "WGPT_PRECISION": "fp32", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([*command, "--master_port", str(port), str(HELPER), *args], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-3000:]


def curve(run_dir: Path) -> list[tuple[str, int, float]]:
    return [
        (r["kind"], r["step"], r["loss"] if r["kind"] == "train" else r.get("nll", r.get("best_nll")))
        for r in read_metrics(run_dir / "metrics.jsonl")[1:]
    ]


def same_curve(a, b) -> bool:
    return [r[:2] for r in a] == [r[:2] for r in b] and [r[2] for r in a] == pytest.approx([r[2] for r in b], rel=RTOL)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The reference: one process, the whole batch of BUDGET.batch_size crops, fp32."""
    run_dir = tmp_path_factory.mktemp("single")
    with pytest.MonkeyPatch.context() as m:
        m.setenv("WGPT_PRECISION", "fp32")
        run(str(run_dir))
    return curve(run_dir)


def test_two_ranks_train_the_curve_of_one_process_with_the_whole_batch(single, tmp_path):
    torchrun(str(tmp_path))
    header = read_metrics(tmp_path / "metrics.jsonl")[0]
    assert header["processes"] == 2 and header["train_config"]["batch_size"] == BUDGET.batch_size
    assert same_curve(curve(tmp_path), single), (curve(tmp_path), single)
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "checkpoint.pt").is_file()


def test_a_ddp_run_stopped_and_resumed_continues_the_same_curve(single, tmp_path):
    torchrun(str(tmp_path), "7")  # stopped mid-epoch, with a checkpoint, as a kill after step 7 would leave it
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl", "train")] == list(range(1, 8))
    torchrun(str(tmp_path), "0", "resume")  # 0: no `until`
    assert same_curve(curve(tmp_path), single)


def test_a_batch_that_does_not_split_over_the_ranks_is_refused_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "3")  # what torchrun --nproc_per_node 3 sets; smoke's batch is 4
    for command in (["train", "--model", "gpt-s", "--corpus", "sample-speech"], ["reproduce"]):
        assert main([*command, "--preset", "smoke"]) == 1
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "batch_size 4 does not split over --nproc_per_node 3" in error, error


def cache_of() -> tuple[list[dict], dict]:
    """The rows of sample-speech/train's cache (made now if missing) and its extraction.json, less what
    differs between two homes (timing, the tokenizer file's path)."""
    dataset = wl.features("sample-speech", "train", "melvq")
    info = json.loads((Path(dataset.cache_files[0]["filename"]).parent / feat.EXTRACTION).read_text())
    del info["extract_seconds"], info["tokenizer_file"], info["sealed_sha256"]  # the seal covers the timing
    return dataset.to_list(), info


def test_a_killed_sharded_extraction_resumes_and_makes_the_uninterrupted_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(feat, "SHARD_CLIPS", 1)  # sample-speech/train: 2 clips, 2 shards
    monkeypatch.setenv("WGPT_HOME", str(tmp_path / "straight"))
    straight = cache_of()
    monkeypatch.setenv("WGPT_HOME", str(tmp_path / "killed"))
    tok = wl.corpus_tokenizer("sample-speech", "melvq")
    extracted, real = [], feat.clip_features

    def killed_on_second_clip(wav, tokenizer):
        extracted.append(1)
        if len(extracted) == 2:
            raise KeyboardInterrupt  # what a SIGTERM raises (processes.sigterm_as_ctrl_c)
        return real(wav, tokenizer)

    monkeypatch.setattr(feat, "clip_features", killed_on_second_clip)
    with pytest.raises(KeyboardInterrupt):
        wl.features("sample-speech", "train", tok)
    shards = next((tmp_path / "killed" / "features").glob("*.shards"))
    assert sorted(path.name for path in shards.iterdir()) == ["shard-00000"], "the first shard is kept"
    extracted.clear()
    monkeypatch.setattr(feat, "clip_features", lambda wav, tokenizer: extracted.append(1) or real(wav, tokenizer))
    assert cache_of() == straight
    assert len(extracted) == 1, "only the missing shard was extracted"
    assert not shards.exists(), "the shards are deleted once the cache holds them"


def test_workers_share_the_shards_and_the_last_one_writes_the_cache(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(feat, "SHARD_CLIPS", 1)
    monkeypatch.setenv("WGPT_HOME", str(tmp_path / "straight"))
    straight = cache_of()
    monkeypatch.setenv("WGPT_HOME", str(tmp_path / "workers"))
    features = ["data", "features", "sample-speech", "--tokenizer", "melvq", "--workers", "2"]
    assert main([*features, "--worker", "1"]) == 0
    assert "worker 1 of 2 done" in capsys.readouterr().out
    shards = next((tmp_path / "workers" / "features").glob("*.shards"))
    # An assembly killed after it claimed the shards: the next worker puts them back and assembles.
    shards.rename(shards.with_name(f"{shards.name}.old-999999"))
    assert main([*features, "--worker", "0"]) == 0
    assert "2 clips" in capsys.readouterr().out
    assert cache_of() == straight
    assert len(list((tmp_path / "workers" / "features").iterdir())) == 1, "the cache alone, no shards"
