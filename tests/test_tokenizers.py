import subprocess
import sys
import urllib.error

import pytest
import torch
from conftest import tone_and_noise

import wgpt_lite as wl
from wgpt_lite import tokenizers
from wgpt_lite.audio import crop_to_frames
from wgpt_lite.infra.encodec_weights import ENCODEC_CHECKPOINT, default_encodec_device, state_dict_sha256
from wgpt_lite.infra.files import file_sha256
from wgpt_lite.tokenizers import (
    EncodecTokenizer,
    MelVQTokenizer,
    auto_tokenizer,
    describe_tokenizer,
    get_tokenizer,
    import_encodec,
)


@pytest.fixture(scope="module")
def untrained_encodec():
    return EncodecTokenizer.untrained(tone_and_noise(2.0, seed=3), seed=0)


@pytest.fixture(scope="module")
def encodec_state(untrained_encodec):
    return untrained_encodec.model.state_dict()


def test_importing_the_kit_stays_light():
    code = (
        "import sys, wgpt_lite; heavy = {'encodec', 'datasets', 'jupyter_core', 'ipywidgets', 'matplotlib'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_encodec_imports_through_the_shim_and_leaves_no_fake_torchaudio():
    assert import_encodec().EncodecModel is not None
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        assert "torchaudio" not in sys.modules  # the placeholder was removed after the import
    else:
        assert not type(sys.modules["torchaudio"]).__name__.startswith("_Missing")


@pytest.mark.parametrize("samples", [24_000, 24_000 + 1, 33_333, 48_000 - 1])
def test_encodec_frames_align_with_mel_frames(untrained_encodec, samples):
    wav = tone_and_noise(2.0, seed=4)[:samples]
    ids = untrained_encodec.encode(wav)
    assert ids.dtype == torch.long
    assert ids.shape == (wl.log_mel(wav).shape[0],) == (samples // 320,)
    assert ids.unique().numel() > 1  # initialised codebooks: not the all-zero codes of a bare random init


def _perturb_from_frame(wav, t):
    perturbed = wav.clone()
    perturbed[(t + 1) * 320 :] = 10 * torch.randn(
        wav.shape[0] - (t + 1) * 320, generator=torch.Generator().manual_seed(t)
    )
    return perturbed


def test_encodec_token_t_never_sees_later_samples(untrained_encodec):
    wav = tone_and_noise(2.0, seed=5)
    reference = untrained_encodec.encode(wav)
    for t in [*range(12), 40, 100]:
        assert torch.equal(reference[: t + 1], untrained_encodec.encode(_perturb_from_frame(wav, t))[: t + 1]), t


def test_bare_encodec_looks_ahead_at_the_start_of_a_clip(untrained_encodec):
    # Why EncodecTokenizer encodes behind ENCODEC_SILENCE_FRAMES of silence: the bare model's
    # left reflect-padding lets its first frames see later samples.
    wav = tone_and_noise(2.0, seed=5)
    with torch.no_grad():
        bare = untrained_encodec.model.encoder(wav[None, None])
        perturbed = untrained_encodec.model.encoder(_perturb_from_frame(wav, 2)[None, None])
    assert not torch.equal(bare[..., :3], perturbed[..., :3])


def _clips_of_different_lengths():
    return [tone_and_noise(2.0, seed=20 + i)[:samples] for i, samples in enumerate((24_000, 7_001, 48_000 - 1))]


def test_encodec_right_padding_in_a_batch_changes_no_kept_token(untrained_encodec):
    clips = _clips_of_different_lengths()
    batched = untrained_encodec.encode_batch(clips)
    assert [tokens.shape[0] for tokens in batched] == [clip.shape[0] // 320 for clip in clips]
    # The same batch shape (so the same float kernels), with loud noise instead of zeros after
    # each clip: a kept token that saw any of the padding would change.
    cropped = [crop_to_frames(clip) for clip in clips]
    longest = max(clip.shape[0] for clip in cropped)
    noise = 10 * torch.randn(longest, generator=torch.Generator().manual_seed(0))
    noisy_padding = torch.stack([torch.cat([clip, noise[clip.shape[0] :]]) for clip in cropped])
    for tokens, row in zip(batched, untrained_encodec.encode(noisy_padding)):
        assert torch.equal(tokens, row[: tokens.shape[0]])


def test_encodec_batch_tokens_are_the_clip_by_clip_tokens(untrained_encodec):
    clips = _clips_of_different_lengths()
    one_by_one = [untrained_encodec.encode(clip) for clip in clips]
    batched = untrained_encodec.encode_batch(clips)
    assert [tokens.shape for tokens in batched] == [tokens.shape for tokens in one_by_one]
    # Equal on the machine this was written on. Elsewhere a token may flip where two codewords
    # are almost equally near: a batch of one runs the LSTM through other float kernels than a
    # batch of several (0.04% of frames measured; see wgpt_lite/data/feature_cache.py).
    flipped = sum(int((a != b).sum()) for a, b in zip(batched, one_by_one))
    assert flipped <= 0.01 * sum(tokens.shape[0] for tokens in one_by_one)


def test_encodec_runs_on_cuda_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_encodec_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_encodec_device() == torch.device("cpu")


def test_encodec_decodes_coarse_tokens_back_to_audio(untrained_encodec):
    ids = untrained_encodec.encode(tone_and_noise(1.0))
    wav = untrained_encodec.decode(ids)
    assert wav.shape == (ids.shape[0] * 320,) and torch.isfinite(wav).all()


def _assert_loads_like(tok, reference):
    wav = tone_and_noise(1.0, seed=6)
    assert tok.name == "encodec" and tok.vocab_size == 1024
    assert torch.equal(tok.encode(wav), reference.encode(wav))


def test_encodec_loads_a_checkpoint_from_the_torch_hub_cache(tmp_path, monkeypatch, encodec_state, untrained_encodec):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = tmp_path / "hub" / "checkpoints" / ENCODEC_CHECKPOINT
    path.parent.mkdir(parents=True)
    torch.save(encodec_state, path)
    with pytest.warns(UserWarning, match="checksum differs"):
        tok = get_tokenizer("encodec")
    _assert_loads_like(tok, untrained_encodec)
    assert tok.weights == str(path) and tok.device == default_encodec_device()


def test_encodec_loads_a_checkpoint_from_wgpt_encodec_dir(tmp_path, monkeypatch, encodec_state, untrained_encodec):
    monkeypatch.setenv("WGPT_ENCODEC_DIR", str(tmp_path))
    torch.save(encodec_state, tmp_path / ENCODEC_CHECKPOINT)
    with pytest.warns(UserWarning, match="checksum differs"):
        tok = get_tokenizer("auto")
    _assert_loads_like(tok, untrained_encodec)
    assert "weights loaded from" in tok.auto_reason


@pytest.mark.filterwarnings("ignore:.*checksum differs")
def test_encodec_is_identified_by_its_weights_not_by_where_they_lie(tmp_path, monkeypatch, encodec_state):
    settings = []
    for folder in ("here", "there"):
        path = tmp_path / folder / ENCODEC_CHECKPOINT
        path.parent.mkdir()
        torch.save(encodec_state, path)
        monkeypatch.setenv("WGPT_ENCODEC_DIR", str(path.parent))
        tok = get_tokenizer("encodec")
        assert tok.weights == str(path)  # where they came from: information, not identity
        settings.append(tok.settings())
    assert settings[0] == settings[1] and settings[0]["weights_sha256"] == file_sha256(path)
    assert str(tmp_path) not in str(settings[0])
    assert describe_tokenizer(settings[0]) == f"EnCodec weights {file_sha256(path)[:8]}…"


def test_encodec_weights_without_a_file_are_identified_by_their_tensors(untrained_encodec):
    identity = untrained_encodec.settings()["weights_sha256"]
    assert identity == state_dict_sha256(untrained_encodec.model) and len(identity) == 64
    copy = EncodecTokenizer(untrained_encodec.model, device="cpu", weights="the same model, in memory")
    assert copy.settings() == untrained_encodec.settings()


def test_missing_encodec_weights_say_which_file_goes_where():
    with pytest.raises(wl.TokenizerError) as info:
        get_tokenizer("encodec")
    message = str(info.value)
    assert ENCODEC_CHECKPOINT in message and "hub/checkpoints" in message and "WGPT_ENCODEC_DIR" in message


def test_failed_download_is_an_error_not_a_hang(monkeypatch):
    monkeypatch.setenv("WGPT_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    with pytest.raises(wl.TokenizerError, match="download failed.*" + ENCODEC_CHECKPOINT):
        get_tokenizer("encodec")


def test_a_torch_hub_cache_that_cannot_be_made_is_told_not_taken_for_missing_weights(tmp_path, monkeypatch):
    """A TORCH_HOME under a file: ``auto`` does not quietly fall back to the codec, nor blames the network."""
    (tmp_path / "notes.txt").write_text("not a folder")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "notes.txt" / "torch"))
    monkeypatch.setenv("WGPT_OFFLINE", "0")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *args, **kwargs: pytest.fail("downloaded"))
    for name in ("auto", "encodec"):
        with pytest.raises(wl.DataError, match=r"torch hub cache \(TORCH_HOME\): .* is a file; set TORCH_HOME to"):
            get_tokenizer(name)


@pytest.mark.filterwarnings("ignore:.*checksum differs")
@pytest.mark.parametrize("content", [b"not a checkpoint", None], ids=["corrupt-file", "wrong-state-dict"])
def test_a_bad_encodec_checkpoint_names_the_file(tmp_path, monkeypatch, content):
    monkeypatch.setenv("WGPT_ENCODEC_DIR", str(tmp_path))
    path = tmp_path / ENCODEC_CHECKPOINT
    if content is None:
        torch.save({"layer.weight": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(wl.TokenizerError, match=str(path)):
        get_tokenizer("encodec")


def test_auto_falls_back_to_the_kits_codec_and_says_why():
    tok = get_tokenizer("auto")
    assert tok.name == "codec" and tok.settings() == get_tokenizer("codec").settings()
    assert "EnCodec 24 kHz weights not found" in tok.auto_reason


def test_auto_is_decided_without_building_a_model(tmp_path, monkeypatch):
    monkeypatch.setattr(tokenizers, "load_encodec_model", lambda *a, **k: pytest.fail("built EnCodec to read a name"))
    assert auto_tokenizer() == "codec"  # offline, no local copy: what get_tokenizer("auto") gives too
    monkeypatch.setenv("WGPT_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    assert auto_tokenizer() == "codec"  # online, but the download fails
    monkeypatch.setenv("WGPT_ENCODEC_DIR", str(tmp_path))
    (tmp_path / ENCODEC_CHECKPOINT).write_bytes(b"weights, not read to decide")
    assert auto_tokenizer() == "encodec"


def test_unknown_tokenizer_lists_the_choices():
    with pytest.raises(wl.TokenizerError, match="auto, encodec, melvq"):
        get_tokenizer("wav2vec")


# --- MelVQ ------------------------------------------------------------------


@pytest.fixture(scope="module")
def training_mels():
    return [wl.log_mel(tone_and_noise(3.0, seed=s)) for s in range(3)]


def test_melvq_fit_and_encode_are_deterministic_for_a_seed(training_mels):
    a = MelVQTokenizer(k=32).fit(training_mels, seed=1)
    b = MelVQTokenizer(k=32).fit(training_mels, seed=1)
    c = MelVQTokenizer(k=32).fit(training_mels, seed=2)
    wav = tone_and_noise(1.0, seed=9)
    assert torch.equal(a.codebook, b.codebook) and torch.equal(a.encode(wav), b.encode(wav))
    assert not torch.equal(a.codebook, c.codebook)
    assert a.settings() == b.settings() != c.settings()


def test_melvq_codes_are_aligned_and_use_the_codebook(training_mels):
    tok = MelVQTokenizer(k=32).fit(training_mels, seed=0)
    wav = tone_and_noise(2.0, seed=10)[:30_001]
    ids = tok.encode(wav)
    assert ids.shape == (30_001 // 320,) and 0 <= ids.min() and ids.max() < 32
    assert ids.unique().numel() > 4
    assert tok.decode(ids).shape == (ids.shape[0], 64)  # centroid spectra, for display


def test_melvq_token_t_never_sees_later_samples(training_mels):
    tok = MelVQTokenizer(k=32).fit(training_mels, seed=0)
    wav = tone_and_noise(2.0, seed=11)
    perturbed = wav.clone()
    perturbed[20 * 320 :] *= 50
    assert torch.equal(tok.encode(wav)[:20], tok.encode(perturbed)[:20])


def test_melvq_save_load_round_trip_gives_identical_codes(tmp_path, training_mels):
    tok = MelVQTokenizer(k=32).fit(training_mels, seed=0)
    tok.save(tmp_path / "codebook.pt")
    loaded = get_tokenizer("melvq", path=tmp_path / "codebook.pt")
    wav = tone_and_noise(1.0, seed=12)
    assert torch.equal(loaded.encode(wav), tok.encode(wav)) and loaded.settings() == tok.settings()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codebook.pt"]
    assert len(tok.settings()["codebook_sha256"]) == 64  # in full: checkpoints and results.json record it


def test_melvq_bad_states_have_clear_errors(tmp_path, training_mels):
    with pytest.raises(wl.TokenizerError, match="not fitted"):
        MelVQTokenizer(k=8).encode(tone_and_noise(0.5))
    with pytest.raises(wl.TokenizerError, match="at least k=4096"):
        MelVQTokenizer(k=4096).fit(training_mels)
    with pytest.raises(wl.TokenizerError, match="no MelVQ codebook"):
        MelVQTokenizer.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(wl.TokenizerError, match="junk.pt"):
        MelVQTokenizer.load(tmp_path / "junk.pt")
