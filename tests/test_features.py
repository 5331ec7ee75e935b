"""Feature cache: columns, cache hits, keys that change with every setting, no trusted half cache, bad clips,
EnCodec in batches."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tone_and_noise

import wgpt_lite as wl
import wgpt_lite.data.feature_cache as feat
from wgpt_lite import audio
from wgpt_lite.data import corpora, provenance
from wgpt_lite.infra.errors import DataError
from wgpt_lite.tokenizers import EncodecTokenizer, MelVQTokenizer


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WGPT_HOME", str(tmp_path))
    monkeypatch.setenv("WGPT_OFFLINE", "1")
    return tmp_path


def test_sample_features_columns_and_alignment(home):
    ds = wl.features("sample-speech", "train")
    rows = wl.read_manifest("sample-speech", "train")
    assert ds.column_names == ["id", "tokens", "mel", "seconds"] and ds["id"] == [r["id"] for r in rows]
    assert ds.features["tokens"].feature.dtype == "int16" and ds.features["mel"].feature.feature.dtype == "float16"
    wav = audio.crop_to_frames(wl.load_audio(corpora.corpus_dir("sample-speech") / rows[0]["path"]))
    first = ds.with_format("numpy")[0]
    assert first["mel"].shape == (wav.shape[0] // wl.HOP, wl.N_MELS) and len(first["tokens"]) == len(first["mel"])
    np.testing.assert_allclose(first["mel"], wl.log_mel(wav).numpy(), atol=2e-3)
    tok = wl.corpus_tokenizer("sample-speech")
    assert (tok.name, tok.vocab_size) == ("codec", 1024)  # offline, `auto` is the kit's codec
    assert first["tokens"].tolist() == tok.encode(wav).tolist()
    assert first["seconds"] == pytest.approx(wav.shape[0] / wl.SAMPLE_RATE)


def test_second_call_is_a_cache_hit(home, monkeypatch):
    first = wl.features("sample-music", "validation", "melvq")
    monkeypatch.setattr(feat, "_extract", lambda *a: pytest.fail("extracted again instead of reusing the cache"))
    monkeypatch.setattr(MelVQTokenizer, "fit", lambda *a, **k: pytest.fail("fitted melvq again"))
    again = wl.features("sample-music", "validation", "melvq")
    assert again["id"] == first["id"] and again.cache_files == first.cache_files


def test_melvq_is_fitted_on_the_training_split_only(home, monkeypatch):
    seen = []
    load_clip = feat.load_clip
    monkeypatch.setattr(feat, "load_clip", lambda corpus, row: seen.append(row["split"]) or load_clip(corpus, row))
    tok = wl.corpus_tokenizer("sample-music", "melvq")
    assert tok.fitted and set(seen) == {"train"}
    assert tok.path.parent == home / "tokenizers" and tok.path.is_file()
    assert wl.corpus_tokenizer("sample-music", "melvq").settings() == tok.settings()  # loaded, same codebook


def test_cache_key_changes_with_every_setting(home, monkeypatch, tmp_path):
    tok = wl.corpus_tokenizer("sample-speech", "melvq")
    base = feat.feature_key("sample-speech", "train", tok)
    keys = {
        base,
        feat.feature_key("sample-speech", "validation", tok),
        feat.feature_key("sample-speech", "train", MelVQTokenizer(codebook=tok.codebook[:64])),
    }
    for name, value in (
        ("SAMPLE_RATE", 16000),
        ("HOP", 160),
        ("N_FFT", 512),
        ("N_MELS", 80),
        ("LOG_FLOOR", 1e-10),
        ("F_MAX", 8000.0),
    ):
        with monkeypatch.context() as m:
            m.setattr(audio, name, value)
            keys.add(feat.feature_key("sample-speech", "train", tok))
    with monkeypatch.context() as m:
        m.setattr(provenance, "FEATURE_VERSION", provenance.FEATURE_VERSION + 1)
        keys.add(feat.feature_key("sample-speech", "train", tok))
    copy = tmp_path / "sample"
    shutil.copytree(corpora.SAMPLE_DIR, copy)
    monkeypatch.setattr(corpora, "SAMPLE_DIR", copy)
    assert feat.feature_key("sample-speech", "train", tok) == base  # the same content elsewhere: the same key
    manifest = copy / "speech" / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace('"train"', '"train" ', 1))
    keys.add(feat.feature_key("sample-speech", "train", tok))
    clip = copy / "speech" / wl.read_manifest("sample-speech", "validation")[0]["path"]
    clip.write_bytes(clip.read_bytes()[:-2])  # any clip's audio, even another split's
    keys.add(feat.feature_key("sample-speech", "train", tok))
    assert len(keys) == 12
    assert feat.feature_key("sample-speech", "train", tok) != base


def test_a_crash_mid_extraction_leaves_no_trusted_cache(home, monkeypatch):
    calls = []
    real = feat.clip_features

    def crash_on_second(wav, tok):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed mid-extraction")
        return real(wav, tok)

    monkeypatch.setattr(feat, "clip_features", crash_on_second)
    with pytest.raises(RuntimeError, match="killed"):
        wl.features("sample-speech", "train", "melvq")
    # Nothing trusted: no cache, and no complete shard (the split's 2 clips make one shard).
    assert not list(home.glob(f"features/*/{feat.EXTRACTION}")) and not list(
        home.glob(f"features/*/*/{feat.SHARD_DONE}")
    )
    monkeypatch.setattr(feat, "clip_features", real)
    assert len(wl.features("sample-speech", "train", "melvq")) == 2


def test_bad_clips_are_skipped_and_listed(home, capsys):
    root = home / "corpora" / "mini-speech"
    shutil.copytree(corpora.SAMPLE_DIR / "speech", root)
    good = wl.read_manifest("mini-speech", "train")
    (root / "audio" / "train" / "empty.wav").write_bytes(b"")
    (root / "audio" / "train" / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    sf.write(root / "audio" / "train" / "silent.wav", np.zeros(wl.SAMPLE_RATE * 2), wl.SAMPLE_RATE, subtype="PCM_16")
    bad = [
        {**good[0], "id": name, "path": f"audio/train/{name}.wav"} for name in ("empty", "corrupt", "silent", "missing")
    ]
    rows = good + bad + wl.read_manifest("mini-speech", "validation")
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = wl.features("mini-speech", "train", MelVQTokenizer(k=8).fit([torch.randn(100, 64)]))
    assert ds["id"] == [r["id"] for r in good]
    err = capsys.readouterr().err
    for name, reason in (
        ("empty", "empty"),
        ("corrupt", "not a readable audio"),
        ("silent", "silent"),
        ("missing", "no such file"),
    ):
        assert f"audio/train/{name}.wav: " in err and reason in err
    info = json.loads(next((home / "features").glob("mini-speech-train-*/extraction.json")).read_text())
    assert len(info["skipped"]) == 4


def test_a_split_with_no_usable_clip_raises(home):
    root = home / "corpora" / "mini-speech"
    shutil.copytree(corpora.SAMPLE_DIR / "speech", root)
    for wav in (root / "audio" / "validation").glob("*.wav"):
        wav.write_bytes(b"")
    with pytest.raises(DataError, match="mini-speech/validation: no usable clip"):
        wl.features("mini-speech", "validation", MelVQTokenizer(k=8).fit([torch.randn(100, 64)]))
    assert not any((home / "features").glob("*"))


def test_unknown_split_lists_the_splits(home):
    with pytest.raises(DataError, match="splits: train, validation"):
        wl.features("sample-music", "test", "melvq")


def test_a_missing_mini_corpus_is_built_on_first_use(home, monkeypatch):
    build_corpus = corpora.build_corpus

    def fake_build(name):
        shutil.copytree(corpora.SAMPLE_DIR / "music", corpora.corpus_dir(name))

    monkeypatch.setattr(corpora, "build_corpus", fake_build)
    assert wl.features("mini-music", "validation", "melvq")["id"] == [
        r["id"] for r in wl.read_manifest("mini-music", "validation")
    ]
    monkeypatch.setattr(corpora, "build_corpus", build_corpus)  # the real builder: offline, the hub is refused
    with pytest.raises(DataError, match="WGPT_OFFLINE"):
        wl.features("librispeech", "train", "melvq")


def test_encodec_batches_cache_what_clip_by_clip_caches(home, monkeypatch):
    # A corpus of clips of different lengths (and one unusable) in 4 batches of at most 6 s:
    # [1.0, 2.5], [3.0: the empty file], [4.0], [6.5] (longer than a batch: on its own).
    root = home / "corpora" / "mini-speech"
    shutil.copytree(corpora.SAMPLE_DIR / "speech", root)
    sample = wl.read_manifest("mini-speech", "train")[0]
    wav = wl.load_audio(root / sample["path"])
    rows = []
    for name, seconds in (("full", 6.5), ("one", 1.0), ("four", 4.0), ("empty", 3.0), ("two-and-a-half", 2.5)):
        path = root / "audio" / "train" / f"{name}.wav"
        if name == "empty":
            path.write_bytes(b"")
        else:
            sf.write(path, wav[: int(seconds * wl.SAMPLE_RATE)].numpy(), wl.SAMPLE_RATE, subtype="PCM_16")
        rows.append({**sample, "id": name, "path": f"audio/train/{name}.wav", "seconds": seconds})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tok = EncodecTokenizer.untrained(tone_and_noise(2.0, seed=3), device="cpu")

    clip_by_clip = wl.features("mini-speech", "train", tok).with_format("numpy")
    (first_folder,) = (home / "features").iterdir()
    shutil.rmtree(home / "features")
    batch_sizes = []
    encode_batch = tok.encode_batch
    monkeypatch.setattr(tok, "encode_batch", lambda wavs: batch_sizes.append(len(wavs)) or encode_batch(wavs))
    monkeypatch.setattr(feat, "encodes_in_batches", lambda tok: True)  # as on a GPU
    monkeypatch.setattr(feat, "ENCODEC_BATCH_SECONDS", 6)
    batched = wl.features("mini-speech", "train", tok).with_format("numpy")

    assert batch_sizes == [2, 1, 1]  # the empty clip's batch has nothing to encode
    assert [folder.name for folder in (home / "features").iterdir()] == [first_folder.name]  # same cache key
    assert batched["id"] == clip_by_clip["id"] == ["full", "one", "four", "two-and-a-half"]  # manifest order
    frames = flipped = 0
    for a, b in zip(batched, clip_by_clip):
        assert a["tokens"].shape == b["tokens"].shape and np.array_equal(a["mel"], b["mel"])
        frames, flipped = frames + len(a["tokens"]), flipped + int((a["tokens"] != b["tokens"]).sum())
    assert flipped <= 0.01 * frames  # float rounding only: see test_encodec_batch_tokens_are_the_clip_by_clip_tokens
    info = json.loads((next((home / "features").iterdir()) / "extraction.json").read_text())
    assert (info["device"], info["batched"]) == ("cpu", True)
    assert [skip["item"] for skip in info["skipped"]] == ["audio/train/empty.wav"]
