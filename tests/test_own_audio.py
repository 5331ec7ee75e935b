"""Your own audio: scoring checkpoints on a folder of recordings (``evaluate --audio``) and making a corpus of one
(``data build folder``). Small generated tones and noise, smoke-sized models: seconds."""

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tone_and_noise
from corpus_checks import check_manifest

import wgpt_lite as wl
from wgpt_lite.cli import main
from wgpt_lite.data import audio_folder, corpora
from wgpt_lite.experiment import own_audio
from wgpt_lite.infra.errors import DataError
from wgpt_lite.infra.files import save_tensors
from wgpt_lite.runs.checkpoint import load_checkpoint, model_from_checkpoint

SR = wl.SAMPLE_RATE
CONTEXT = wl.train_config("smoke").context  # 32 frames: the windows are 33 frames long


def write(path, seconds, seed=0, sr=SR, scale=1.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = tone_and_noise(seconds, sr, seed).numpy() * scale
    sf.write(path, wav, sr)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """gpt-s and the hybrid trained for 5 smoke steps on the committed speech sample (melvq), and their home."""
    home = tmp_path_factory.mktemp("home")
    paths = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WGPT_HOME", str(home))
        tok = wl.corpus_tokenizer("sample-speech", "melvq")
        train_ds = wl.features("sample-speech", "train", tok)
        eval_batch = wl.eval_crops(wl.features("sample-speech", "validation", tok), context=CONTEXT, n_crops=8)
        for name in ("gpt-s", "hybrid"):
            torch.manual_seed(0)
            model = wl.build_model(name, "smoke", vocab_size=tok.vocab_size)
            run = wl.RunInfo(model=name, preset="smoke", corpus="sample-speech", tokenizer=tok.name)
            run_dir = tmp_path_factory.mktemp(name)
            wl.train_in_folder(
                model, train_ds, eval_batch, wl.train_config("smoke", steps=5), run_dir, run, progress=False
            )
            paths[name] = run_dir / "checkpoint.pt"
    return home, paths


@pytest.fixture
def trained(checkpoints, monkeypatch):
    home, paths = checkpoints
    monkeypatch.setenv("WGPT_HOME", str(home))  # the melvq codebook and features the models were trained with
    return paths


@pytest.fixture
def own_folder(tmp_path):
    """A folder as people have them: good recordings (one in a sub-folder), and files that cannot be scored."""
    folder = tmp_path / "my audio"
    write(folder / "good.wav", 2.0, seed=1)
    write(folder / "short.wav", 20 * wl.HOP / SR, seed=2)  # 20 frames: shorter than the context, scored whole
    write(folder / "tiny.wav", 500 / SR, seed=3)  # one frame: nothing to predict
    write(folder / "silent.wav", 1.0, scale=0.0)
    (folder / "corrupt.wav").write_bytes(np.random.default_rng(0).bytes(4000))
    write(folder / "take two" / "deeper.flac", 1.3, seed=4, sr=16_000)  # another rate, another format
    (folder / "notes.txt").write_text("not audio: not looked at")
    return folder


SKIPPED = {"tiny.wav": "shorter than 2 frames", "silent.wav": "silent", "corrupt.wav": "not a readable audio file"}
SCORED = ["good.wav", "short.wav", "take two/deeper.flac"]


def frames_of(path):
    return wl.load_audio(path).shape[-1] // wl.HOP


def test_windows_cover_every_token_once():
    for n_frames in (2, 20, 33, 34, 65, 66, 200):
        windows = own_audio.clip_windows(n_frames, CONTEXT)
        targets = [t for start, stop in windows for t in range(start + 1, stop)]
        assert targets == list(range(1, n_frames)), n_frames  # each frame after the first, once, in order
        assert all(2 <= stop - start <= CONTEXT + 1 for start, stop in windows)


def test_score_folder_scores_every_token_of_the_good_files_and_lists_the_others(trained, own_folder, monkeypatch):
    monkeypatch.setenv("WGPT_PRECISION", "fp32")  # bf16 autocast (where the CPU has it) rounds batches differently
    scored = wl.score_folder([trained["gpt-s"], trained["hybrid"]], own_folder, progress=False)
    reasons = {item["item"]: item["reason"] for item in scored["skipped"]}
    assert sorted(reasons) == sorted(SKIPPED) and all(SKIPPED[name] in reasons[name] for name in SKIPPED)
    frames = [frames_of(own_folder / name) for name in SCORED]
    assert frames[1] < CONTEXT + 1 < frames[0]
    tok = wl.corpus_tokenizer("sample-speech", "melvq")
    for row, name in zip(scored["rows"], ("gpt-s", "hybrid")):
        assert (row["model"], row["corpus"], row["clips"]) == (name, "sample-speech", len(SCORED))
        assert row["tokens"] == sum(n - 1 for n in frames)  # every token after a clip's first, once
        assert row["windows"] == sum(math.ceil((n - 1) / CONTEXT) for n in frames)
        # the same numbers as train.evaluate window by window, on tokens and mel made as the feature cache makes them
        model, _ = model_from_checkpoint(row["checkpoint"])
        nll = correct = 0.0
        for path in SCORED:
            wav = wl.normalise_peak(wl.load_audio(own_folder / path))  # at the corpora's level, as scored
            tokens, mel = wl.clip_features(wav[: frames_of(own_folder / path) * wl.HOP], tok)
            for start in range(0, len(tokens) - 1, CONTEXT):
                window = slice(start, start + CONTEXT + 1)
                scores = wl.evaluate(model, (tokens[None, window], mel[None, window].half().float()))
                targets = len(tokens[window]) - 1
                nll, correct = nll + scores["nll"] * targets, correct + scores["acc"] * targets
        assert row["nll"] == pytest.approx(nll / row["tokens"], rel=1e-6)
        assert row["acc"] == pytest.approx(correct / row["tokens"], abs=1e-9)
        assert row["ppl"] == pytest.approx(math.exp(row["nll"]))


def test_your_audio_is_scored_at_the_corpora_level_whatever_its_own(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("WGPT_PRECISION", "fp32")
    loud, quiet = (
        write(tmp_path / "loud" / "a.wav", 2.0, scale=0.9),
        write(tmp_path / "quiet" / "a.wav", 2.0, scale=0.05),
    )
    rows = [wl.score_folder(trained["hybrid"], path.parent, progress=False)["rows"][0] for path in (loud, quiet)]
    assert rows[0]["nll"] == pytest.approx(rows[1]["nll"], abs=1e-4)  # 16-bit files: the quiet one is coarser


def test_a_long_file_is_scored_in_pieces(monkeypatch, tmp_path):
    monkeypatch.setattr(audio_folder, "MAX_CLIP_SECONDS", 1.0)
    write(tmp_path / "long.wav", 2.5)
    clips, skipped = audio_folder.read_folder(tmp_path)
    assert [name for name, _ in clips] == ["long.wav#1", "long.wav#2", "long.wav#3"] and not skipped
    assert sum(wav.shape[-1] for _, wav in clips) == frames_of(tmp_path / "long.wav") * wl.HOP


def test_cli_prints_one_line_per_checkpoint_and_the_skipped_files(trained, own_folder, tmp_path, capsys):
    out = tmp_path / "scores" / "own.json"
    argv = ["evaluate", "--audio", str(own_folder), str(trained["gpt-s"]), str(trained["hybrid"]), "--json", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert (
        len(lines) == 2 and lines[0].startswith("sample-speech gpt-s") and lines[1].startswith("sample-speech hybrid")
    )
    assert all(f"your audio in {own_folder}" in line and "NLL" in line for line in lines)
    assert "skipped 3 files" in captured.err and all(name in captured.err for name in SKIPPED)
    written = json.loads(out.read_text())
    assert [row["model"] for row in written["rows"]] == ["gpt-s", "hybrid"] and len(written["skipped"]) == 3


def one_line_error(argv, capsys, status=1) -> str:
    try:
        assert main(argv) == status
    except SystemExit as exit:  # argparse's own mistakes
        assert exit.code == status
    lines = capsys.readouterr().err.splitlines()  # a build's progress bar, then the error
    assert [line for line in lines if "error" in line] == lines[-1:], lines
    return lines[-1]


def test_evaluate_audio_mistakes_are_one_line(trained, own_folder, tmp_path, capsys):
    checkpoint = str(trained["gpt-s"])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("no audio here")
    unusable = tmp_path / "unusable"
    write(unusable / "quiet.wav", 1.0, scale=1e-5)
    (unusable / "broken.flac").write_bytes(b"fLaC but not really")
    told = {
        "missing": one_line_error(["evaluate", "--audio", str(tmp_path / "nowhere"), checkpoint], capsys),
        "empty": one_line_error(["evaluate", "--audio", str(empty), checkpoint], capsys),
        "unusable": one_line_error(["evaluate", "--audio", str(unusable), checkpoint], capsys),
        "several without --audio": one_line_error(["evaluate", checkpoint, checkpoint], capsys),
        "--crops with --audio": one_line_error(
            ["evaluate", "--audio", str(own_folder), checkpoint, "--crops", "3"], capsys
        ),
    }
    assert (
        told["missing"]
        == f"error: --audio {tmp_path / 'nowhere'}: no such folder; give the folder that holds your audio files"
    )
    assert told["empty"].startswith(f"error: --audio {empty}: no audio file in it or its sub-folders (looked for .wav")
    assert told["unusable"].startswith(f"error: --audio {unusable}: none of its 2 audio files is usable")
    assert "with --audio DIR" in told["several without --audio"] and "leave them out" in told["--crops with --audio"]


def test_a_checkpoint_whose_tokens_cannot_be_made_is_refused_in_one_line(trained, own_folder, tmp_path, capsys):
    checkpoint = load_checkpoint(trained["gpt-s"])
    encodec = {**checkpoint, "run": {**checkpoint["run"], "tokenizer": "encodec"}}  # its weights: not offline
    save_tensors(tmp_path / "encodec.pt", encodec)
    other_codebook = {**checkpoint, "provenance": {**checkpoint["provenance"]}}
    other_codebook["provenance"]["tokenizer"] = {**checkpoint["provenance"]["tokenizer"], "codebook_sha256": "0" * 64}
    save_tensors(tmp_path / "refit.pt", other_codebook)
    told = one_line_error(["evaluate", "--audio", str(own_folder), str(tmp_path / "encodec.pt")], capsys)
    assert told.startswith("error: ") and "EnCodec" in told
    told = one_line_error(["evaluate", "--audio", str(own_folder), str(tmp_path / "refit.pt")], capsys)
    assert told.startswith(f"error: {tmp_path / 'refit.pt'} was trained on other data than this: melvq codebook")


# ---------------------------------------------------------------------------
# data build folder


@pytest.fixture
def source(tmp_path):
    """Ten recordings of 1.5-4 s, one of 25 s (cut into two clips), one silent, one corrupt."""
    folder = tmp_path / "recordings"
    for i in range(10):
        write(folder / f"take-{i:02d}.wav", 1.5 + 0.25 * i, seed=i)
    write(folder / "long" / "lecture.flac", 25.0, seed=99, sr=16_000)
    write(folder / "silent.wav", 2.0, scale=0.0)
    (folder / "corrupt.wav").write_bytes(np.random.default_rng(1).bytes(3000))
    return folder


def test_data_build_folder_makes_a_corpus_the_kit_trains_on(home, source, tmp_path, capsys):
    build = ["data", "build", "folder", "--source", str(source), "--name", "my-voice", "--jobs", "1"]
    assert main(build) == 0
    path = home / "corpora" / "my-voice"
    assert capsys.readouterr().out.startswith(f"{path}: train ")
    spec = corpora.corpus_spec("my-voice")
    assert (spec.kind, spec.splits, spec.builder) == ("speech", ("train", "validation", "test"), "folder:build_folder")
    rows = check_manifest(path, spec)
    assert all((path / row["path"]).parent == path / "audio" / row["split"] for row in rows)
    split_of = {}
    for row in rows:
        assert split_of.setdefault(row["piece"], row["split"]) == row["split"], "a file is in two splits"
    assert sorted(split_of) == ["long/lecture.flac", *(f"take-{i:02d}.wav" for i in range(10))]
    assert sum(row["piece"] == "long/lecture.flac" for row in rows) == 2  # 25 s: two clips of at most 20 s
    summary = wl.corpus_summary("my-voice")
    assert {item["item"] for item in summary["skipped"]} == {"silent.wav", "corrupt.wav"}
    assert summary["minutes"] == spec.minutes == pytest.approx(summary["splits"]["train"]["seconds"] / 60, abs=1e-3)
    manifest = (path / "manifest.jsonl").read_bytes()
    assert main([*build, "--force"]) == 0
    assert (path / "manifest.jsonl").read_bytes() == manifest, "the same files make the same corpus"

    assert main(["data", "features", "my-voice", "--split", "test", "--tokenizer", "melvq"]) == 0
    assert len(wl.features("my-voice", "train", "melvq")) == sum(row["split"] == "train" for row in rows)
    train = [
        "train",
        "--model",
        "hybrid",
        "--corpus",
        "my-voice",
        "--preset",
        "smoke",
        "--tokenizer",
        "melvq",
        "--steps",
        "5",
    ]
    capsys.readouterr()
    assert main([*train, "--out", str(tmp_path / "runs"), "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("my-voice hybrid (")

    (path / "summary.json").unlink()  # a folder corpus is never built behind the user's back
    with pytest.raises(DataError, match=f"data build folder --source {source} --name my-voice$"):
        wl.read_manifest("my-voice")


def test_sub_folders_are_the_splits(home, tmp_path):
    folder = tmp_path / "split"
    for split, n in (("train", 3), ("validation", 1), ("test", 1)):
        for i in range(n):
            write(folder / split / f"{i}.wav", 1.5, seed=i)
    write(folder / "elsewhere.wav", 1.5)
    wl.build_folder_corpus(folder, "by-folder", kind="music", jobs=1)
    rows = wl.read_manifest("by-folder")
    assert {row["piece"]: row["split"] for row in rows} == {
        "train/0.wav": "train",
        "train/1.wav": "train",
        "train/2.wav": "train",
        "validation/0.wav": "validation",
        "test/0.wav": "test",
    }
    assert corpora.corpus_spec("by-folder").kind == "music"
    assert [item["item"] for item in wl.corpus_summary("by-folder")["skipped"]] == ["elsewhere.wav"]


def test_data_build_folder_mistakes_are_one_line(home, source, tmp_path, capsys):
    few = tmp_path / "few"
    write(few / "a.wav", 2.0)
    write(few / "b.wav", 2.0)
    half = tmp_path / "half"
    write(half / "train" / "a.wav", 2.0)
    build = ["data", "build", "folder", "--jobs", "1"]
    told = {
        "no source": one_line_error([*build, "--source", str(tmp_path / "nowhere"), "--name", "x"], capsys),
        "a built-in name": one_line_error([*build, "--source", str(source), "--name", "mini-speech"], capsys),
        "a path as name": one_line_error([*build, "--source", str(source), "--name", "../x"], capsys),
        "no --name": one_line_error([*build, "--source", str(source)], capsys),
        "--minutes": one_line_error([*build, "--source", str(source), "--name", "x", "--minutes", "3"], capsys),
        "two files": one_line_error([*build, "--source", str(few), "--name", "few"], capsys),
        "half the sub-folders": one_line_error([*build, "--source", str(half), "--name", "half"], capsys),
    }
    assert (
        told["no source"]
        == f"error: --source {tmp_path / 'nowhere'}: no such folder; give the folder that holds your audio files"
    )
    assert (
        told["a built-in name"] == "error: --name mini-speech: that is a built-in corpus; give your folder another name"
    )
    assert told["a path as name"].startswith("error: --name '../x': a corpus name is letters, digits, - and _")
    assert "needs --source DIR" in told["no --name"] and "--minutes does not apply" in told["--minutes"]
    assert told["two files"].startswith("error: 2 usable audio file(s): a corpus needs at least 3")
    assert told["half the sub-folders"].startswith(f"error: --source {half} has train/ but no validation/, test/")
    assert not any((home / "corpora").glob("*")), "a refused build leaves no corpus behind"


def test_an_unknown_corpus_name_says_how_to_make_one(home, capsys):
    line = one_line_error(["train", "--model", "gpt-s", "--corpus", "my-voice"], capsys, status=2)
    assert "unknown corpus 'my-voice'" in line and "data build folder --source DIR --name my-voice" in line
