"""Crops: one clip per crop, aligned tokens and mel, seeded, fixed evaluation crops, short clips never used."""

import numpy as np
import pytest
import torch

import wgpt_lite as wl
from wgpt_lite.data.feature_cache import to_dataset
from wgpt_lite.infra.errors import DataError


def synthetic(lengths, name="toy/train"):
    """Clip c, frame f: token = 1000 * c + f, and every mel bin holds f (exact in float16)."""
    clips = []
    for c, n in enumerate(lengths):
        tokens = (1000 * c + np.arange(n)).astype(np.int16)
        clips.append((f"clip{c}", tokens, np.repeat(np.arange(n)[:, None], wl.N_MELS, 1).astype(np.float16)))
    return to_dataset(clips, name)


def test_crops_are_contiguous_aligned_and_inside_one_clip():
    ds = synthetic([50, 200, 120])
    tokens, mel = wl.random_crops(ds, context=63, batch_size=256, generator=torch.Generator().manual_seed(1))
    assert tokens.shape == (256, 64) and tokens.dtype == torch.long
    assert mel.shape == (256, 64, wl.N_MELS) and mel.dtype == torch.float32
    assert torch.equal(mel[..., 0].long(), tokens % 1000) and torch.equal(mel[..., 5], mel[..., 0])
    assert torch.all(tokens[:, 1:] - tokens[:, :-1] == 1), "a crop crossed a clip boundary"
    clips = tokens[:, 0] // 1000
    assert set(clips.tolist()) == {1, 2}, "the 50-frame clip is shorter than 64 frames and must never be used"
    starts = tokens[:, 0] % 1000
    assert starts.max() <= 200 - 64 and (starts[clips == 2] <= 120 - 64).all()


def test_random_crops_follow_the_generator():
    ds = synthetic([300, 300])
    a = wl.random_crops(ds, 31, 16, torch.Generator().manual_seed(7))[0]
    b = wl.random_crops(ds, 31, 16, torch.Generator().manual_seed(7))[0]
    c = wl.random_crops(ds, 31, 16, torch.Generator().manual_seed(8))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_windows_are_uniform_over_all_clips():
    ds = synthetic([100, 1000])  # clip 1 holds 10x the windows of clip 0 (context 9)
    tokens, _ = wl.random_crops(ds, 9, 20_000, torch.Generator().manual_seed(0))
    share = (tokens[:, 0] // 1000 == 0).float().mean().item()
    assert share == pytest.approx(91 / (91 + 991), abs=0.01)


def test_eval_crops_are_fixed_and_seeded():
    ds = synthetic([400, 250, 90])
    first = wl.eval_crops(ds, context=80, n_crops=32)
    again = wl.eval_crops(synthetic([400, 250, 90]), context=80, n_crops=32)  # a new dataset object, same clips
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    assert not torch.equal(first[0], wl.eval_crops(ds, context=80, n_crops=32, seed=1)[0])


def test_selected_rows_are_respected():
    ds = synthetic([100, 100, 100]).select([2])
    tokens, _ = wl.random_crops(ds, 49, 64, torch.Generator().manual_seed(0))
    assert set((tokens[:, 0] // 1000).tolist()) == {2}


def test_no_clip_long_enough_names_the_split_and_the_longest_clip():
    with pytest.raises(DataError, match=r"toy/validation: no clip holds 513 frames.*clip1, has 300"):
        wl.eval_crops(synthetic([120, 300], name="toy/validation"), context=512, n_crops=4)


def test_crops_from_real_features(tmp_path, monkeypatch):
    monkeypatch.setenv("WGPT_HOME", str(tmp_path))
    ds = wl.features("sample-music", "train", "melvq")
    tokens, mel = wl.random_crops(ds, 64, 4, torch.Generator().manual_seed(0))
    assert tokens.shape == (4, 65) and mel.shape == (4, 65, wl.N_MELS)
    assert int(tokens.max()) < wl.corpus_tokenizer("sample-music", "melvq").vocab_size
