"""Generation: the KV cache changes nothing but speed, sampling is seeded, the hybrid's loop is
causal, and bad input is refused in words."""

import pytest
import torch

import wgpt_lite as wl
from wgpt_lite.experiment.generation_quality import closed_loop_mismatch
from wgpt_lite.generate import (
    ENCODEC_MEL_WINDOW,
    CentroidMel,
    DecodedAudioMel,
    generate,
    mel_source,
    sample_next,
)
from wgpt_lite.model import KVCache
from wgpt_lite.runs import checkpoint as checkpoints
from wgpt_lite.runs.checkpoint import load_for_generation


def melvq(seed: int = 0) -> wl.MelVQTokenizer:
    return wl.MelVQTokenizer(codebook=torch.randn(1024, wl.N_MELS, generator=torch.Generator().manual_seed(seed)))


def model(name: str) -> wl.GPT:
    torch.manual_seed(0)
    return wl.build_model(name, "smoke").eval()  # context 64


def prompt(batch: int = 2, frames: int = 20, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 1024, (batch, frames), generator=generator), torch.randn(
        batch, frames, 64, generator=generator
    )


@pytest.mark.parametrize("name", ["gpt-s", "hybrid"])
def test_cached_forward_gives_the_logits_of_a_full_forward(name):
    m, (ids, mel) = model(name), prompt(2, 40)
    cache = KVCache(m.config)
    parts = [m(ids[:, a:b], mel=mel[:, a:b], cache=cache)[0] for a, b in ((0, 25), (25, 26), (26, 40))]
    torch.testing.assert_close(torch.cat(parts, dim=1), m(ids, mel=mel)[0], atol=1e-5, rtol=1e-5)
    assert cache.frames == 40


@pytest.mark.parametrize("name", ["gpt-s", "hybrid"])
def test_greedy_with_cache_equals_greedy_without_across_window_slides(name):
    m, (ids, mel), tok = model(name), prompt(2, 50), melvq()
    kwargs = dict(mel=mel, tokenizer=tok, greedy=True, keep=40)
    cached = generate(m, ids, 60, **kwargs)
    plain = generate(m, ids, 60, use_cache=False, **kwargs)
    assert cached.slides == plain.slides >= 2  # 50 + 60 frames in a context of 64
    assert torch.equal(cached.tokens, plain.tokens) and cached.tokens.shape == (2, 110)
    assert torch.equal(cached.tokens[:, :50], ids)
    if name == "hybrid":
        assert torch.equal(cached.mel, plain.mel) and cached.mel.shape == (2, 110, 64)


def test_same_seed_same_sample_and_top_k_1_is_greedy():
    m, (ids, mel), tok = model("hybrid"), prompt(), melvq()
    one = generate(m, ids, 20, mel=mel, tokenizer=tok, top_p=0.9, seed=3).tokens
    assert torch.equal(one, generate(m, ids, 20, mel=mel, tokenizer=tok, top_p=0.9, seed=3).tokens)
    assert not torch.equal(one, generate(m, ids, 20, mel=mel, tokenizer=tok, top_p=0.9, seed=4).tokens)
    greedy = generate(m, ids, 20, mel=mel, tokenizer=tok, greedy=True).tokens
    assert torch.equal(greedy, generate(m, ids, 20, mel=mel, tokenizer=tok, top_k=1, seed=5).tokens)


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    draws = {int(sample_next(logits, top_p=0.7, generator=torch.Generator().manual_seed(s))) for s in range(200)}
    assert draws == {0, 1}
    assert int(sample_next(logits, top_p=0.1, generator=torch.Generator().manual_seed(0))) == 0


def test_a_1d_prompt_gives_1d_output_and_the_hybrid_remakes_a_missing_mel():
    m, (ids, _), tok = model("hybrid"), prompt(1, 12), melvq()
    out = generate(m, ids[0], 5, tokenizer=tok, seed=0)
    assert out.tokens.shape == (17,) and out.mel.shape == (17, 64)
    torch.testing.assert_close(out.mel, tok.decode(out.tokens))  # centroid source: mel t = centroid of token t


def test_the_closed_loop_is_causal():
    """Mel frame t is made from tokens <= t: the source sees exactly the tokens up to the one it renders."""
    m, (ids, mel), tok = model("hybrid"), prompt(1, 10), melvq()
    seen = []

    def spy(tokens):
        seen.append(tokens.clone())
        return CentroidMel(tok)(tokens)

    out = generate(m, ids, 8, mel=mel, source=spy, seed=0)
    assert [s.shape[1] for s in seen] == list(range(11, 19))
    for s in seen:  # no later token existed when frame s.shape[1] - 1 was made
        assert torch.equal(s, out.tokens[:, : s.shape[1]])
    torch.testing.assert_close(out.mel[:, 10:], tok.decode(out.tokens[:, 10:]))


def test_encodec_mel_frame_depends_on_past_tokens_only():
    encodec = wl.EncodecTokenizer.untrained(torch.randn(12_000, generator=torch.Generator().manual_seed(0)))
    source = DecodedAudioMel(encodec, window=8)
    ids = torch.randint(0, 1024, (1, 20), generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[:, 12:] = (changed[:, 12:] + 1) % 1024
    torch.testing.assert_close(source.whole(ids)[:, :12], source.whole(changed)[:, :12])
    assert mel_source(model("hybrid"), encodec).window == ENCODEC_MEL_WINDOW


def test_closed_loop_mismatch_is_zero_when_the_mel_is_the_centroids():
    m, (ids, _), tok = model("hybrid"), prompt(1, 30), melvq()
    result = closed_loop_mismatch(m, tok, ids[0], tok.decode(ids[0]))
    assert result["mel_abs_diff"] == 0 and result["nll_real_mel"] == pytest.approx(result["nll_remade_mel"])
    noisy = closed_loop_mismatch(m, tok, ids[0], tok.decode(ids[0]) + 0.5)
    assert noisy["mel_abs_diff"] == pytest.approx(0.5) and noisy["nll_real_mel"] != noisy["nll_remade_mel"]


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(tokens=torch.zeros(1, 0, dtype=torch.long)), "empty"),
        (dict(tokens=torch.zeros(1, 65, dtype=torch.long)), "at most 64 frames"),
        (dict(temperature=0.0), "temperature must be > 0"),
        (dict(top_p=0.0), "top_p must be in (0, 1]"),
        (dict(top_p=1.5), "top_p must be in (0, 1]"),
        (dict(top_k=0), "top_k must be >= 1"),
        (dict(tokens=torch.full((1, 8), 5000)), "outside the model's vocabulary"),
        (dict(keep=0), "keep must be between"),
    ],
)
def test_bad_input_is_refused_in_words(change, words):
    kwargs = dict(tokens=prompt(1, 8)[0], n_frames=2, tokenizer=melvq(), seed=0) | change
    with pytest.raises(wl.ModelError, match=words.replace("(", r"\(").replace(")", r"\)")):
        generate(model("gpt-s"), **kwargs)


def test_a_silent_prompt_is_refused():
    tok = melvq()
    silence = tok.encode(torch.zeros(12_000))
    with pytest.raises(wl.ModelError, match="silence"):
        generate(model("gpt-s"), silence, 2, tokenizer=tok)
    with pytest.raises(wl.ModelError, match="silence"):
        generate(model("hybrid"), silence, 2, mel=wl.log_mel(torch.zeros(12_000)))


def test_a_checkpoint_of_another_tokenizer_is_refused(tmp_path, monkeypatch):
    tok = melvq()
    checkpoint = {"run": {"tokenizer": "melvq"}, "provenance": {"tokenizer": tok.settings()}, "model": None}
    checkpoint.update(model_config={}, train_config={}, step=0)  # the kit's entries: the reader's first check
    (tmp_path / "checkpoint.pt").touch()
    monkeypatch.setattr(checkpoints, "load_tensors", lambda path, refuse: checkpoint)
    monkeypatch.setattr(checkpoints, "rebuild_model", lambda ckpt, path: model("gpt-s"))
    assert isinstance(load_for_generation(tmp_path / "checkpoint.pt", tok), wl.GPT)
    with pytest.raises(wl.CheckpointError, match="another melvq tokenizer: melvq codebook"):
        load_for_generation(tmp_path / "checkpoint.pt", melvq(seed=1))
    checkpoint["run"]["tokenizer"] = "encodec"
    with pytest.raises(wl.CheckpointError, match="trained on encodec tokens, and these prompts are melvq"):
        load_for_generation(tmp_path / "checkpoint.pt", tok)


def test_the_sample_command_writes_a_wav_and_a_figure_of_prompt_and_continuation(tmp_path, capsys):
    import soundfile as sf

    from wgpt_lite.cli import main

    runs = tmp_path / "runs"
    wl.reproduce("smoke", ["sample-speech"], tokenizer="melvq", out=runs, models=("hybrid",), progress=False)
    prompt = wl.corpus_dir("sample-speech") / wl.read_manifest("sample-speech", "validation")[0]["path"]
    checkpoint = runs / "sample-speech" / "hybrid" / "checkpoint.pt"
    argv = ["sample", "--checkpoint", str(checkpoint), "--prompt", str(prompt), "--prompt-seconds", "0.5"]
    assert main([*argv, "--seconds", "0.4", "--out", str(tmp_path / "out")]) == 0
    wav, png = sorted((tmp_path / "out").iterdir(), key=lambda p: p.suffix != ".wav")
    assert wav.suffix == ".wav" and png.suffix == ".png" and "wrote" in capsys.readouterr().out
    assert sf.info(str(wav)).frames == (round(0.5 * wl.SAMPLE_RATE) // wl.HOP + 30) * wl.HOP  # prompt + 0.4 s
    assert main([*argv, "--top-p", "1.5", "--out", str(tmp_path / "out")]) == 1  # one line, no traceback
    assert capsys.readouterr().err.count("\n") == 1
    default = ["sample", "--checkpoint", str(checkpoint), "--prompt", str(prompt), "--seconds", "0.4"]
    assert main([*default, "--out", str(tmp_path / "default")]) == 0, "2 s would not fit: half the context"
    context = wl.build_model("hybrid", "smoke").config.context  # the positions the model holds
    wav = next((tmp_path / "default").glob("*.wav"))
    assert sf.info(str(wav)).frames == (context // 2 + 30) * wl.HOP


def test_a_frame_budget_below_one_is_refused():
    with pytest.raises(wl.ModelError, match="n_frames must be at least 1"):
        generate(wl.build_model("gpt-s", "smoke"), torch.randint(0, 1024, (1, 8)), n_frames=0)
