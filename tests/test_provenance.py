"""Provenance: every artefact records what made it, and a checkpoint is never scored or resumed on other
tokens or another corpus content than it was trained on; unreadable or foreign checkpoints in one line."""

import datetime
import json
import shutil
import sys
import traceback

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tone_and_noise

import wgpt_lite as wl
from wgpt_lite import tokenizers
from wgpt_lite.codec import Codec, CodecConfig, CodecTokenizer, save_codec
from wgpt_lite.data import corpora
from wgpt_lite.data.feature_cache import corpus_tokenizer, feature_key, features
from wgpt_lite.experiment.reproduce import CorpusData, reproduce, score_checkpoint
from wgpt_lite.infra.code_version import code_version
from wgpt_lite.infra.encodec_weights import ENCODEC_CHECKPOINT
from wgpt_lite.infra.errors import CheckpointError, TokenizerError
from wgpt_lite.infra.files import file_sha256, save_tensors
from wgpt_lite.runs.checkpoint import load_checkpoint, model_from_checkpoint
from wgpt_lite.runs.run_folder import read_metrics, train_in_folder
from wgpt_lite.tokenizers import EncodecTokenizer, MelVQTokenizer, get_tokenizer
from wgpt_lite.train import RunInfo

SMOKE = wl.train_config("smoke", steps=2)


@pytest.fixture
def sample(tmp_path, monkeypatch):
    """A copy of the committed sample that a test may change; sample-speech is read from its ``speech/``."""
    copy = tmp_path / "sample"
    shutil.copytree(corpora.SAMPLE_DIR, copy)
    monkeypatch.setattr(corpora, "SAMPLE_DIR", copy)
    return copy / "speech"


def train_clip(sample, index=0):
    return sample / wl.read_manifest("sample-speech", "train")[index]["path"]


def replace_with_other_audio(clip):
    """Other audio of the very same length (so the same file size) over a clip, as a user fixing one would."""
    frames = sf.info(str(clip)).frames
    tone = 0.3 * np.sin(2 * np.pi * 330 * np.arange(frames) / wl.SAMPLE_RATE)
    size = clip.stat().st_size
    sf.write(clip, tone, wl.SAMPLE_RATE, subtype="PCM_16")
    assert clip.stat().st_size == size


def reproduce_gpt_s(out, tokenizer="melvq"):
    return reproduce(
        "smoke", ["sample-speech"], tokenizer=tokenizer, out=out, models=("gpt-s",), progress=False, steps=2
    )


def refusal(call, error=CheckpointError) -> str:
    """The message of the one-line ``error`` that ``call`` raises; its traceback never advises unsafe loading."""
    with pytest.raises(error) as refused:
        call()
    message = str(refused.value)
    assert "\n" not in message and "weights_only" not in "".join(traceback.format_exception(refused.value))
    return message


def test_a_refitted_codebook_is_refused_by_scoring_resuming_and_reproducing(sample, tmp_path):
    out = tmp_path / "run"
    reproduce_gpt_s(out)
    checkpoint = out / "sample-speech" / "gpt-s" / "checkpoint.pt"
    trained_on = corpus_tokenizer("sample-speech", "melvq").settings()["codebook_sha256"]

    replace_with_other_audio(train_clip(sample))  # melvq is fitted on train: its codebook is refitted
    data = CorpusData("sample-speech", "melvq", SMOKE)
    refitted = data.tokenizer.settings()["codebook_sha256"]
    assert refitted != trained_on

    def resume():
        model = wl.build_model("gpt-s", "smoke", vocab_size=data.tokenizer.vocab_size)
        run = RunInfo(model="gpt-s", preset="smoke", corpus="sample-speech", tokenizer="melvq")
        train_in_folder(model, data.train, data.validation, SMOKE, checkpoint.parent, run, resume=True, progress=False)

    for call in (lambda: score_checkpoint(checkpoint), resume, lambda: reproduce_gpt_s(out)):
        message = refusal(call)
        assert message.startswith(f"{checkpoint} was trained on other data than this: ")
        assert f"melvq codebook {trained_on[:8]}… at training, {refitted[:8]}… now" in message
        assert "sample-speech content" in message and "sample-speech's manifest or audio changed" in message
        assert "Retrain into another output folder" in message
    assert load_checkpoint(checkpoint)["step"] == 2, "a refused resume leaves the checkpoint as it was"


@pytest.mark.filterwarnings("ignore:.*checksum differs")
def test_an_encodec_checkpoint_is_refused_with_other_weights(sample, tmp_path, monkeypatch):
    monkeypatch.setenv("WGPT_ENCODEC_DIR", str(tmp_path))
    weights = tmp_path / ENCODEC_CHECKPOINT
    calibration = tone_and_noise(2.0, seed=3)
    torch.save(EncodecTokenizer.untrained(calibration, seed=0).model.state_dict(), weights)
    out = tmp_path / "run"
    reproduce_gpt_s(out, tokenizer="encodec")
    trained_with = file_sha256(weights)
    torch.save(EncodecTokenizer.untrained(calibration, seed=1).model.state_dict(), weights)

    message = refusal(lambda: score_checkpoint(out / "sample-speech" / "gpt-s" / "checkpoint.pt"))
    assert f"EnCodec weights {trained_with[:8]}… at training, {file_sha256(weights)[:8]}… now" in message
    assert "content" not in message, "the corpus did not change"


def test_a_codec_checkpoint_is_refused_with_other_codec_weights(sample, tmp_path, monkeypatch):
    out = tmp_path / "run"
    reproduce_gpt_s(out, tokenizer="codec")  # the committed weights
    trained_with = get_tokenizer("codec").settings()["weights_sha256"]
    other = tmp_path / "other-codec.pt"
    torch.manual_seed(0)
    now = save_codec(Codec(CodecConfig(n_filters=4, lstm=0)), other, steps=0, made_from={"history": []})
    monkeypatch.setattr(tokenizers, "CodecTokenizer", lambda path=other: CodecTokenizer(path))  # "codec" -> other

    message = refusal(lambda: score_checkpoint(out / "sample-speech" / "gpt-s" / "checkpoint.pt"))
    assert f"codec weights {trained_with[:8]}… at training, {now[:8]}… now" in message
    assert "content" not in message, "the corpus did not change"


def test_reproduce_results_logs_and_checkpoints_carry_the_fingerprints(sample, tmp_path):
    out = tmp_path / "run"
    reproduce_gpt_s(out)
    corpus = corpora.corpus_fingerprint("sample-speech")
    codebook = corpus_tokenizer("sample-speech", "melvq").settings()["codebook_sha256"]
    assert len(corpus) == len(codebook) == 64

    results = json.loads((out / "results.json").read_text())
    made_from = results["provenance"]["sample-speech"]
    assert made_from["corpus_sha256"] == corpus and made_from["tokenizer"]["codebook_sha256"] == codebook
    assert results["code"] == code_version() and results["code"]["wgpt_lite"]
    table = (out / "results.md").read_text()
    assert f"- sample-speech: content {corpus[:8]}…, melvq codebook {codebook[:8]}…" in table
    assert corpus not in table, "results.md shows short hashes; results.json has them in full"

    header = read_metrics(out / "sample-speech" / "gpt-s" / "metrics.jsonl", "run")[0]
    checkpoint = load_checkpoint(out / "sample-speech" / "gpt-s" / "checkpoint.pt")
    assert header["provenance"] == checkpoint["provenance"] == made_from
    assert header["code"] == checkpoint["code"] == results["code"]
    assert wl.load_runs(out)["sample-speech"]["gpt-s"][0][0]["kind"] == "run"  # seed 0's log, its header first
    model, _ = model_from_checkpoint(out / "sample-speech" / "gpt-s" / "checkpoint.pt", made_from=made_from)
    assert model.num_params() == next(row["params"] for row in results["rows"] if row["model"] == "gpt-s")


def test_a_corrupt_clip_is_listed_again_whenever_training_reads_the_cache(sample, capsys):
    clip = train_clip(sample)
    clip.write_bytes(b"RIFF\x00\x00garbage" * 10)
    features("sample-speech", "train", "melvq")
    extracting = capsys.readouterr().err
    CorpusData("sample-speech", "melvq", SMOKE)  # a cache hit, as train and reproduce read it
    training = capsys.readouterr().err
    for err in (extracting, training):
        assert "sample-speech/train: skipped 1 clips:" in err and f"{clip.relative_to(sample)}: " in err


def test_a_clip_put_back_is_a_new_feature_cache_with_the_clip_in_it(sample):
    rows = wl.read_manifest("sample-speech", "train")
    clip = sample / rows[0]["path"]
    good = clip.read_bytes()
    tok = MelVQTokenizer(k=8).fit([torch.randn(100, wl.N_MELS)], seed=0)  # fixed: only the audio changes
    clip.write_bytes(b"RIFF\x00\x00garbage" * 10)
    corrupt_key = feature_key("sample-speech", "train", tok)
    assert features("sample-speech", "train", tok)["id"] == [rows[1]["id"]]
    clip.write_bytes(good)  # what the skip message advises: replace the clip
    assert feature_key("sample-speech", "train", tok) != corrupt_key
    assert features("sample-speech", "train", tok)["id"] == [row["id"] for row in rows]


class Opaque:
    """A Python object: a torch file that pickles one cannot be loaded without running code."""


CUT_SHORT = {"run": {}, "model": {"weight": torch.zeros(64, 64)}}  # saved, then cut to its first half


@pytest.mark.parametrize(
    "content, reason",
    [
        ({"weights": torch.zeros(3)}, "not a readable wgpt_lite checkpoint (it carries no content digest"),
        (torch.zeros(3), "not a readable wgpt_lite checkpoint (it carries no content digest"),
        (b"not a checkpoint", "not a readable wgpt_lite checkpoint (not a file torch wrote: Unsupported operand"),
        (b"", "not a readable wgpt_lite checkpoint (empty or cut short: the file ends before its data does)"),
        (CUT_SHORT, "not a readable wgpt_lite checkpoint (empty or cut short"),
        ({"run": datetime.date(2024, 12, 15)}, "it holds pickled Python objects (datetime.date)"),
        ({"run": Opaque()}, "it holds pickled Python objects (test_provenance.Opaque)"),
        ({"run": sys.exit}, "it holds pickled Python objects (sys.exit), which wgpt_lite never loads"),
    ],
    ids=["other-keys", "a-tensor", "garbage", "empty", "cut-short", "pickled-date", "pickled-class", "pickled-sys"],
)
def test_a_file_that_is_not_a_checkpoint_is_refused_in_one_line_without_unsafe_advice(tmp_path, content, reason):
    path = tmp_path / "checkpoint.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    if content is CUT_SHORT:  # the first half of a torch file: what a copy that stopped midway leaves
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    for load in (load_checkpoint, model_from_checkpoint, score_checkpoint):
        message = refusal(lambda: load(path))
        assert message.startswith(f"{path}: ") and reason in message


def test_tokenizer_files_that_hold_pickled_objects_are_refused_without_unsafe_advice(tmp_path, monkeypatch):
    codebook = tmp_path / "codebook.pt"
    torch.save({"codebook": Opaque()}, codebook)
    monkeypatch.setenv("WGPT_ENCODEC_DIR", str(tmp_path))
    torch.save({"encoder": Opaque()}, tmp_path / ENCODEC_CHECKPOINT)
    for load in (lambda: MelVQTokenizer.load(codebook), lambda: get_tokenizer("encodec")):
        assert "pickled Python objects (test_provenance.Opaque)" in refusal(load, TokenizerError)


def test_a_checkpoint_from_before_provenance_is_refused_with_the_way_out(tmp_path):
    path = tmp_path / "hybrid" / "checkpoint.pt"
    path.parent.mkdir()
    save_tensors(path, {"run": {}, "model_config": {}, "train_config": {}, "step": 300, "model": {}})
    message = refusal(lambda: score_checkpoint(path))
    assert message.startswith(f"{path}: written by an older wgpt_lite that did not record the corpus and tokens")
    assert f"delete {path.parent}" in message and "make demo" in message
