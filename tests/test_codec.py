"""The kit's codec: causal, aligned with the log-mel, trained resumably, its weights identified by their hash."""

import re

import pytest
import torch
from conftest import tone_and_noise

import wgpt_lite as wl
from wgpt_lite.cli import main
from wgpt_lite.codec import WEIGHTS, Codec, CodecConfig, CodecTokenizer, load_codec, restart_dead_codes, save_codec
from wgpt_lite.data.feature_cache import feature_key
from wgpt_lite.experiment import codec_training
from wgpt_lite.infra.errors import CheckpointError, TokenizerError
from wgpt_lite.infra.files import file_sha256
from wgpt_lite.tokenizers import describe_tokenizer, get_tokenizer

TINY = CodecConfig(n_filters=4, lstm=1, dimension=16, n_q=2, bins=32)
TINY_RUN = dict(corpora=("sample-speech",), batch=2, crop_seconds=0.5, config=TINY, checkpoint_every=10, progress=False)


@pytest.fixture(scope="module")
def tiny_codec():
    """An untrained tiny codec whose codebooks are k-means-initialised, so that its codes vary."""
    torch.manual_seed(0)
    model = Codec(TINY)
    calibration = torch.stack([tone_and_noise(1.0, seed=s) for s in range(4)])
    codec_training.init_codebooks(model, calibration, torch.Generator().manual_seed(0), batch=4, iters=5)
    return model.eval()


@pytest.fixture(scope="module")
def tiny_weights(tiny_codec, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    save_codec(tiny_codec, path, steps=0, made_from={"history": []})
    return path


@pytest.mark.parametrize("t", [0, 7, 40])
def test_no_code_and_no_decoded_sample_depends_on_later_audio(tiny_codec, t):
    wav = tone_and_noise(1.0, seed=1)[None]
    cut = (t + 1) * wl.HOP
    perturbed = wav.clone()
    perturbed[:, cut:] = torch.randn(wav.shape[-1] - cut, generator=torch.Generator().manual_seed(2))
    codes, codes_perturbed = tiny_codec.encode(wav), tiny_codec.encode(perturbed)
    assert torch.equal(codes[..., : t + 1], codes_perturbed[..., : t + 1])
    assert not torch.equal(codes[..., t + 1 :], codes_perturbed[..., t + 1 :])  # the future does reach later codes
    decoded, decoded_perturbed = tiny_codec.decode(codes), tiny_codec.decode(codes_perturbed)
    assert torch.allclose(decoded[:, :cut], decoded_perturbed[:, :cut], atol=1e-6, rtol=0)
    assert not torch.allclose(decoded[:, cut:], decoded_perturbed[:, cut:])


def test_tokens_align_one_to_one_with_log_mel_frames(tiny_weights):
    tok = get_tokenizer("codec", path=tiny_weights)
    wav = tone_and_noise(1.0)[: 24_000 - 100]  # not a whole number of frames
    tokens = tok.encode(wav)
    assert tokens.dtype == torch.long and tokens.shape == (wl.log_mel(wav).shape[0],) == (74,)
    assert int(tokens.max()) < tok.vocab_size == TINY.bins
    assert tok.encode(torch.stack([wav, wav])).shape == (2, 74)
    codes = tok.encode_codes(wav)
    assert codes.shape == (TINY.n_q, 74) and torch.equal(codes[0], tokens)
    assert tok.decode(tokens).shape == tok.decode_codes(codes).shape == (74 * wl.HOP,)


def test_settings_name_the_weights_by_their_hash(tiny_weights, tiny_codec, tmp_path):
    tok = CodecTokenizer(tiny_weights)
    settings = tok.settings()
    assert settings == {"name": "codec", "weights_sha256": file_sha256(tiny_weights), "codebook": 0}
    assert describe_tokenizer(settings) == f"codec weights {settings['weights_sha256'][:8]}…"
    other = tmp_path / "other.pt"
    save_codec(tiny_codec, other, steps=1, made_from={"history": []})  # the same tensors, another step count
    other_tok = CodecTokenizer(other)
    assert other_tok.settings() != settings
    assert feature_key("sample-speech", "train", other_tok) != feature_key("sample-speech", "train", tok)


def test_a_file_that_is_not_codec_weights_is_refused_in_one_line(tmp_path):
    with pytest.raises(TokenizerError, match="no codec weights there"):
        CodecTokenizer(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"something": torch.zeros(2)}, bad)
    with pytest.raises(TokenizerError, match="not a codec weights file") as err:
        load_codec(bad)
    assert "\n" not in str(err.value)


def test_a_dead_code_restarts_on_a_batch_vector_and_stays_there(tiny_codec):
    """encodec's own restart is undone by its EMA update in the same step; the kit's is not."""
    model = Codec(TINY).train()
    book = model.quantizer.vq.layers[0]._codebook
    book.cluster_size.fill_(1.0)
    book.embed_avg.copy_(book.embed)
    book.cluster_size[5] = 0.0
    vectors = torch.randn(1, TINY.dimension, 30) + 50.0  # far from every code
    restart_dead_codes(book, vectors, torch.Generator().manual_seed(0))
    model.quantizer.vq.layers[0](vectors)  # an EMA update
    assert (book.embed[5] - 50.0).abs().max() < 5.0
    assert not (book.embed[:5] - 50.0).abs().max() < 5.0


def test_codec_train_resumes_on_the_same_curve(tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    codec_training.train_codec(straight, 20, **TINY_RUN)
    codec_training.train_codec(stopped, 10, **TINY_RUN)
    codec_training.train_codec(stopped, 20, **TINY_RUN)
    curve = codec_training.read_codec_metrics(straight)
    assert [r["step"] for r in curve] == [10, 20]
    keys = ("loss", "mel", "wave", "commit", "used0", "entropy0")
    assert [[r[k] for k in keys] for r in codec_training.read_codec_metrics(stopped)] == [
        [r[k] for k in keys] for r in curve
    ]
    with pytest.raises(CheckpointError, match="other settings"):
        codec_training.train_codec(stopped, 30, **{**TINY_RUN, "batch": 3})


def test_export_then_train_on_from_the_weights(tmp_path):
    run = tmp_path / "run"
    codec_training.train_codec(run, 10, **TINY_RUN, command="first")
    weights = tmp_path / "weights.pt"
    card = codec_training.export_codec(run, weights, tmp_path / "report", split="validation", note="goes on")
    text = card.read_text()
    assert file_sha256(weights) in text and "10 in total" in text and "first" in text and "Status**: goes on" in text
    report = (tmp_path / "report" / "report.json").read_text()
    assert '"steps": 10' in report and list((tmp_path / "report" / "sample-speech").glob("*-codebook0.wav"))
    codec_training.train_codec(tmp_path / "next", 20, **TINY_RUN, from_weights=weights, command="second")
    assert [r["step"] for r in codec_training.read_codec_metrics(tmp_path / "next")] == [20]
    codec_training.export_codec(tmp_path / "next", weights, tmp_path / "report", split="validation")
    _, info = load_codec(weights)
    assert info["steps"] == 20 and [h["command"] for h in info["made_from"]["history"]] == ["first", "second"]


def test_codec_cli_mistakes_are_one_line(capsys, tmp_path):
    assert main(["codec", "train", "--run", str(tmp_path / "r"), "--steps", "5", "--corpus", "no-such"]) == 1
    assert main(["codec", "report", "--weights", str(tmp_path / "none.pt"), "--out", str(tmp_path / "o")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "no-such" in lines[0] and "no codec weights there" in lines[1]


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="the codec's weights are not committed yet")
def test_the_committed_weights_load_and_match_their_card():
    card = WEIGHTS.with_suffix(".md").read_text()
    digest = file_sha256(WEIGHTS)
    assert re.search(r"sha256\s+`([0-9a-f]{64})`", card)[1] == digest
    tok = get_tokenizer("codec")
    assert tok.settings()["weights_sha256"] == digest and tok.vocab_size == 1024
    assert tok.encode(tone_and_noise(1.0)).shape == (75,)
