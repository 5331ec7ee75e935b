"""The benchmark kit: its tables, its reference model, its FLOP count, its memory probe and its runner."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import wgpt_lite as wl
from bench import frontend
from bench.report import Table, fmt
from bench.timing import call_peak_bytes
from bench.workload import reference_model
from wgpt_lite.data.feature_cache import ENCODEC_BATCH_SECONDS, EXTRACT_THREADS
from wgpt_lite.experiment.budget import train_flops_per_token

REPO = Path(__file__).resolve().parent.parent


def test_tables_format_numbers_and_refuse_ragged_rows():
    table = Table("Speed", ["model", "tokens/s", "ratio"], notes=["batch 8 × 512"])
    table.add("gpt-s", 12345.6, 0.01234)
    text = table.markdown()
    assert "### Speed" in text and "| gpt-s | 12,346 | 0.0123 |" in text and "- batch 8 × 512" in text
    assert fmt("a|b") == "a\\|b" and fmt(3) == "3" and fmt(1.23456) == "1.23"
    with pytest.raises(ValueError):
        table.add("too", "few")


@pytest.mark.parametrize("name", ["gpt-s", "hybrid"])
def test_reference_attention_computes_what_the_kit_computes(name):
    torch.manual_seed(0)
    kit = wl.build_model(name, "smoke")
    torch.manual_seed(0)
    reference = reference_model(name, "smoke")
    assert reference.num_params() == kit.num_params()
    ids, mel = torch.randint(0, 1024, (2, 16)), torch.randn(2, 16, wl.N_MELS)
    torch.testing.assert_close(reference(ids, mel=mel)[0], kit(ids, mel=mel)[0], atol=1e-5, rtol=1e-4)


def test_training_flops_count_matmul_parameters_and_attention():
    model = wl.build_model("gpt-s", "smoke")  # 1 layer of width 32, vocabulary 1024, context 64
    c = model.config
    blocks = c.n_layer * (12 * c.n_embd**2 + 13 * c.n_embd)  # qkv, proj, MLP weights and biases, 2 layer norms
    head_and_final_norm = c.n_embd * c.vocab_size + 2 * c.n_embd
    assert train_flops_per_token(model, 64) == 6 * (blocks + head_and_final_norm) + 12 * c.n_layer * c.n_embd * 64


def test_peak_memory_sees_a_call_that_touches_64_mib():
    peak = call_peak_bytes(lambda: torch.ones(16 << 20), torch.device("cpu"))  # 16 Mi floats
    if peak is None:
        pytest.skip("peak memory needs Linux with glibc")
    assert 60 << 20 <= peak < 200 << 20


def test_encodec_extraction_table_times_both_paths_on_each_device():
    encodec = wl.EncodecTokenizer.untrained(frontend.test_signal(1.0), device="cpu")
    table = frontend.extraction_table(encodec, [torch.device("cpu")], clip_seconds=[0.5, 1.0], repeats=1)
    one, batched = table.rows
    assert one[:4] == ["cpu", f"clip by clip, {EXTRACT_THREADS} threads (features() runs this)", 2, 1.5]
    assert batched[1] == f"batched: 1 of ≤ {ENCODEC_BATCH_SECONDS} s, padded"
    assert one[-1] == "1.00×" and batched[-1].endswith("×")
    assert all(row[5] == pytest.approx(1.5 / row[4]) for row in table.rows)  # × real time = audio / wall


def test_quick_probe_run_writes_a_page(tmp_path):
    out = tmp_path / "bench.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--sections", "probe", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    for heading in ("# Benchmarks", "### Machine and versions", "### Matmul probe", "| cpu | fp32 |"):
        assert heading in text
    assert "--sections probe" in text  # the command that made the page


def test_unknown_sections_are_refused():
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--sections", "nope"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "unknown section" in result.stderr


def test_quick_generation_section_measures_cache_and_real_time_on_smoke_models():
    from types import SimpleNamespace

    from bench import generation

    ctx = SimpleNamespace(quick=True, targets=[])
    cache_table, rt_table = generation.run(ctx, models=("gpt-s", "hybrid"), preset="smoke")
    assert [row[0] for row in cache_table.rows] == ["gpt-s", "hybrid"]
    assert all(row[1] > 0 and row[2] > 0 and row[3].endswith("×") for row in cache_table.rows)
    assert [row[1] for row in rt_table.rows] == [
        "-",
        "MelVQ centroid",
        f"EnCodec, last {generation.ENCODEC_MEL_WINDOW} tokens decoded",
    ]
    assert [target.goal.split(":")[0].split(" ")[0] for target in ctx.targets] == ["gpt-s", "gpt-s", "hybrid"]
