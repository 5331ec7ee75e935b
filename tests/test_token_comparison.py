"""The tokenizer comparison: its statistics on hand-made streams, its reconstructions, its n/a cells and its files."""

import json

import pytest
import torch

import wgpt_lite as wl
from wgpt_lite.cli import main
from wgpt_lite.data.corpora import load_clip, read_manifest
from wgpt_lite.experiment.codec_training import codebook_usage
from wgpt_lite.experiment.token_comparison import (
    Tally,
    comparison_markdown,
    held_out,
    reconstruction,
    token_codes,
    unmeasured_row,
)
from wgpt_lite.infra.errors import TokenizerError
from wgpt_lite.tokenizers import MelVQTokenizer

CORPUS, SPLIT = "sample-speech", "validation"  # committed, so no test builds a corpus


@pytest.fixture(scope="module")
def clip():
    return load_clip(CORPUS, read_manifest(CORPUS, SPLIT)[0])


def test_usage_entropy_and_repeat_rate_of_hand_made_streams():
    assert codebook_usage(torch.tensor([0, 0, 1, 1]), 8) == {
        "used": 2,
        "bins": 8,
        "entropy_bits": pytest.approx(1.0),
        "repeat_rate": pytest.approx(2 / 3),  # frames 1 and 3 repeat their predecessor; frame 2 does not
    }
    spread = codebook_usage(torch.tensor([3, 1, 2, 0]), 4)
    assert (spread["used"], spread["entropy_bits"], spread["repeat_rate"]) == (4, pytest.approx(2.0), 0.0)
    stuck = codebook_usage(torch.full((10,), 5), 16)
    assert (stuck["used"], stuck["entropy_bits"], stuck["repeat_rate"]) == (1, 0.0, 1.0)


def test_melvq_fitted_on_train_reconstructs_the_mel_better_than_a_random_codebook(clip):
    fitted = wl.corpus_tokenizer(CORPUS, "melvq")
    # random centroids of the fitted ones' overall level and spread: a codebook that learnt nothing
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(fitted.codebook.shape, generator=generator)
    random = MelVQTokenizer(codebook=fitted.codebook.mean() + fitted.codebook.std() * noise)
    scores = [reconstruction(tok, clip, token_codes(tok, clip))["log_mel_l1"] for tok in (fitted, random)]
    assert scores[0] < 0.5 * scores[1], scores


def test_a_tokenizer_that_does_not_decode_to_audio_gets_n_a_not_a_number(clip):
    tok = wl.corpus_tokenizer(CORPUS, "melvq")
    tally = Tally("melvq", tok)
    tally.add(clip)
    row = tally.row(CORPUS)
    assert row["all"]["si_snr_db"] is None and row["codebook0"]["si_snr_db"] is None
    assert row["all"]["log_mel_l1"] > 0 and "si_snr_db" in row["not_applicable"]
    assert row["bitrate_bps"] == {"all": 7 * 75, "codebook0": 7 * 75}  # one codebook of 128 entries
    report = {
        "split": SPLIT,
        "corpora": {CORPUS: {"clips": 1, "seconds": 6.0, "silence_log_mel_l1": 1.0}},
        "rows": [row, unmeasured_row(CORPUS, "encodec", "not measured here: no weights")],
        "made_from": {"code": {"wgpt_lite": "0.1.0"}, "threads": 1},
    }
    table_row = next(line for line in comparison_markdown(report).splitlines() if "| melvq |" in line)
    assert table_row.count("n/a") == 2 and "nan" not in table_row.lower()

    tok.decodes_to = "image"  # an instance attribute: the class keeps "log-mel"
    with pytest.raises(TokenizerError, match="neither audio nor log-mel"):
        reconstruction(tok, clip, token_codes(tok, clip))


def test_encodec_codes_hold_both_codebooks_and_codebook_0_is_its_tokens(clip):
    tok = wl.EncodecTokenizer.untrained(clip[:24_000], seed=0, device="cpu")
    codes = tok.encode_codes(clip[:24_000])
    assert codes.shape == (2, 75) and torch.equal(codes[0], tok.encode(clip[:24_000]))
    assert torch.equal(tok.decode_codes(codes[:1]), tok.decode(codes[0]))
    assert not torch.equal(tok.decode_codes(codes), tok.decode(codes[0]))  # the second codebook adds something


def test_held_out_clips_are_limited_by_count_and_by_seconds_but_never_empty():
    rows = read_manifest(CORPUS, SPLIT)
    assert held_out(CORPUS, SPLIT, None, None) == rows
    assert held_out(CORPUS, SPLIT, 1, None) == rows[:1]
    assert held_out(CORPUS, SPLIT, None, 0.01) == rows[:1]
    assert len(held_out(CORPUS, SPLIT, None, rows[0]["seconds"] + 0.01)) == min(2, len(rows))


def test_compare_command_writes_the_table_and_what_made_it(tmp_path, capsys):
    out = tmp_path / "comparison"
    assert main(["tokenizers", "compare", "--corpus", CORPUS, "--split", SPLIT, "--max-clips", "1"] + [
        "--out", str(out), "--no-progress"
    ]) == 0  # fmt: skip
    report = json.loads((out / "comparison.json").read_text())
    rows = {row["tokenizer"]: row for row in report["rows"]}
    assert [rows[name]["status"] for name in ("codec", "melvq", "encodec (untrained)")] == ["measured"] * 3
    assert rows["encodec"]["status"].startswith("not measured here") and rows["encodec"]["all"]["si_snr_db"] is None
    assert rows["codec"]["identity"]["weights_sha256"] == wl.CodecTokenizer().weights_sha256
    assert "wgpt_lite" in report["made_from"]["code"] and report["made_from"]["corpus_sha256"][CORPUS]
    markdown = (out / "comparison.md").read_text()
    assert "arXiv:2210.13438" in markdown and markdown in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["comparison.json", "comparison.md"]  # no temporary left


def test_compare_command_refuses_an_unknown_corpus_or_tokenizer_in_one_line(capsys):
    assert main(["tokenizers", "compare", "--corpus", "nowhere"]) == 1
    assert main(["tokenizers", "compare", "--tokenizers", "codec,wavlm"]) == 1
    assert capsys.readouterr().err.count("\n") == 2
    with pytest.raises(TokenizerError, match="give some of codec, melvq, encodec"):
        wl.compare_tokenizers([CORPUS], SPLIT, [])
