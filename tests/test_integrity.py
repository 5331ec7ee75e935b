"""Fault injection: each kind of file the kit writes and reads back, damaged, is refused in one line
or gives exactly the numbers of the undamaged file; never another number without a word.

Damages: 64 bytes inverted at five places, the file cut in half, emptied, and garbage appended.
"""

import json
import shutil
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import wgpt_lite as wl
from wgpt_lite import codec
from wgpt_lite.cli import main
from wgpt_lite.data import corpora
from wgpt_lite.experiment.reproduce import score_checkpoint
from wgpt_lite.infra.errors import CheckpointError, WgptError
from wgpt_lite.infra.files import content_digest, load_tensors, read_json, read_json_lines, save_tensors, write_json
from wgpt_lite.runs.run_folder import METRICS, read_metrics, train_in_folder

FLIPS = (0.02, 0.25, 0.5, 0.75, 0.98)  # where in the file 64 bytes are inverted
SMOKE = wl.train_config("smoke")


def flipped(data: bytes, at: float, count: int = 64) -> bytes:
    start = min(int(len(data) * at), max(0, len(data) - count))
    return data[:start] + bytes(b ^ 0xFF for b in data[start : start + count]) + data[start + count :]


def damages(data: bytes) -> dict[str, bytes]:
    return {
        **{f"flipped at {at:.0%}": flipped(data, at) for at in FLIPS},
        "cut in half": data[: len(data) // 2],
        "emptied": b"",
        "garbage appended": data + b"\x00\xffgarbage" * 8,
    }


@contextmanager
def damaged(path: Path, data: bytes):
    """``path`` holds ``data`` inside the block, and its own bytes again after it."""
    original = path.read_bytes()
    path.write_bytes(data)
    try:
        yield
    finally:
        path.write_bytes(original)


def refused_or_same(call, expected) -> str:
    """``call()`` either raises one line of the kit's errors or returns exactly ``expected``."""
    try:
        got = call()
    except WgptError as err:
        assert "\n" not in str(err), str(err)
        return "refused"
    assert got == expected, "a damaged file gave other numbers without a word"
    return "same"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A smoke hybrid trained on a copy of the sample speech (melvq), and the scores `evaluate` gives it."""
    home, out = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("out")
    sample = tmp_path_factory.mktemp("sample") / "sample"
    shutil.copytree(corpora.SAMPLE_DIR, sample)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WGPT_HOME", str(home))
        patch.setattr(corpora, "SAMPLE_DIR", sample)
        argv = ["train", "--model", "hybrid", "--corpus", "sample-speech", "--tokenizer", "melvq"]
        assert main([*argv, "--preset", "smoke", "--out", str(out), "--no-progress"]) == 0
        checkpoint = out / "sample-speech" / "hybrid" / "checkpoint.pt"
        scores = score_checkpoint(checkpoint)
    return SimpleNamespace(home=home, sample=sample, checkpoint=checkpoint, scores=scores)


@pytest.fixture
def evaluate(trained, monkeypatch):
    """``score_checkpoint`` of the trained run, in its home: what `evaluate` prints."""
    monkeypatch.setenv("WGPT_HOME", str(trained.home))
    monkeypatch.setattr(corpora, "SAMPLE_DIR", trained.sample)
    return lambda: score_checkpoint(trained.checkpoint)


def files_read_by_evaluate(trained) -> list[Path]:
    """The checkpoint, the feature cache it is scored on (Arrow data and records), the melvq codebook,
    and the corpus's manifest and summary."""
    cache = next((trained.home / "features").glob("sample-speech-validation-melvq-*"))
    return [
        trained.checkpoint,
        *sorted(path for path in cache.iterdir() if path.is_file()),
        *sorted((trained.home / "tokenizers").glob("*.pt")),
        trained.sample / "speech" / "manifest.jsonl",
        trained.sample / "speech" / "summary.json",
        trained.home / "fingerprints" / "sample-speech.json",  # the clips' hashes, remembered
    ]


def test_every_file_evaluate_reads_is_refused_in_one_line_or_gives_the_same_numbers(trained, evaluate):
    outcomes = {}
    for path in files_read_by_evaluate(trained):
        for damage, data in damages(path.read_bytes()).items():
            with damaged(path, data):
                outcomes[path.name, damage] = refused_or_same(evaluate, trained.scores)
    assert evaluate() == trained.scores  # every file put back
    checkpoint = {damage: how for (name, damage), how in outcomes.items() if name == "checkpoint.pt"}
    assert checkpoint["flipped at 50%"] == "refused" and checkpoint["cut in half"] == "refused"
    arrow = {how for (name, _), how in outcomes.items() if name.endswith(".arrow")}
    assert arrow == {"refused"}, "every change to the features' bytes is caught by their digest"


def test_the_command_says_it_in_one_line(trained, evaluate, capsys):
    cache = next((trained.home / "features").glob("sample-speech-validation-melvq-*"))
    arrow = next(cache.glob("*.arrow"))
    for path, expected in ((trained.checkpoint, "checkpoint.pt: not a readable"), (arrow, "the feature cache")):
        with damaged(path, flipped(path.read_bytes(), 0.5)):
            assert main(["evaluate", str(trained.checkpoint)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0] and "Traceback" not in err[0], err


@pytest.fixture(scope="module")
def half_run(tmp_path_factory):
    """A run stopped at step 10 of 20 (its checkpoint and log), and the log of the same run never stopped."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WGPT_HOME", str(home))
        tok = wl.corpus_tokenizer("sample-speech", "melvq")
        data = (
            wl.features("sample-speech", "train", tok),
            wl.eval_crops(wl.features("sample-speech", "validation", tok), context=SMOKE.context, n_crops=8),
        )
        run = wl.RunInfo(model="hybrid", preset="smoke", corpus="sample-speech", tokenizer=tok.name)
        straight, half = tmp_path_factory.mktemp("straight"), tmp_path_factory.mktemp("half")
        for folder, until in ((straight, None), (half, 10)):
            torch.manual_seed(0)  # the same initial weights for both
            model = wl.build_model("hybrid", "smoke", vocab_size=tok.vocab_size)
            train_in_folder(model, *data, SMOKE, folder, run, until=until, progress=False)
    return SimpleNamespace(home=home, tok=tok, data=data, run=run, straight=straight, half=half)


def logged(folder: Path) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in read_metrics(folder / METRICS)]


@pytest.mark.parametrize("damage", [*damages(b"x" * 1000), "not UTF-8", "last line cut"])
def test_a_resume_keeps_every_logged_line_or_refuses_in_one_line(half_run, tmp_path, monkeypatch, damage):
    monkeypatch.setenv("WGPT_HOME", str(half_run.home))
    run_dir = tmp_path / "run"
    shutil.copytree(half_run.half, run_dir)
    log = run_dir / METRICS
    data = log.read_bytes()
    if damage == "not UTF-8":
        data = data[:100] + b"\xff\xfe" + data[102:]
    elif damage == "last line cut":
        data = data[: data.rstrip(b"\n").rfind(b"\n") + 10]
    else:
        data = damages(data)[damage]
    log.write_bytes(data)
    model = wl.build_model("hybrid", "smoke", vocab_size=half_run.tok.vocab_size)
    try:
        train_in_folder(model, *half_run.data, SMOKE, run_dir, half_run.run, resume=True, progress=False)
    except CheckpointError as err:
        assert "\n" not in str(err) and f"{log}: not the log of" in str(err)
        assert log.read_bytes() == data, "a refused log is left as it was"
        return
    assert damage == "garbage appended", "only what follows the checkpoint's lines may be dropped"
    assert logged(run_dir) == logged(half_run.straight), "the resumed log is the uninterrupted one, every line"


def test_a_log_line_that_does_not_parse_is_named_by_its_number(tmp_path):
    log = tmp_path / METRICS
    log.write_bytes(b'{"kind": "run"}\n{"kind": "tr\xffain"}\n{"kind": "train"}\n{"kind": "tr')
    with pytest.raises(WgptError, match=rf"{log}, line 2: the run's log has a line that is not a JSON record"):
        read_metrics(log)
    log.write_bytes(b'{"kind": "run"}\n{"kind": "train"}\n{"kind": "tr')  # a kill cut the last line short
    assert [r["kind"] for r in read_json_lines(log, "the run's log", "")] == ["run", "train"]


def test_sealed_torch_and_json_files_are_refused_when_damaged_or_unsealed(tmp_path):
    content = {"model": {"w": torch.arange(1000.0), "b": torch.zeros(3, dtype=torch.bfloat16)}, "step": 7}
    torch_file, json_file = tmp_path / "state.pt", tmp_path / "results.json"
    save_tensors(torch_file, content)
    write_json(json_file, {"rows": [{"nll": 4.5 + i / 7} for i in range(50)], "seeds": 3}, indent=1)
    readers = {  # what was read, compared by the digest of its content (tensors have no ==)
        torch_file: lambda: content_digest(load_tensors(torch_file, CheckpointError)),
        json_file: lambda: read_json(json_file, "results", "again"),
    }
    expected = {path: read() for path, read in readers.items()}
    assert expected[torch_file] == content_digest(content)
    for path, read in readers.items():
        for data in damages(path.read_bytes()).values():
            with damaged(path, data):
                refused_or_same(read, expected[path])
    torch.save(content, torch_file)  # written without its digest: by another program, or an older kit
    with pytest.raises(CheckpointError, match="it carries no content digest"):
        load_tensors(torch_file, CheckpointError)
    json_file.write_text(json.dumps({"rows": []}))
    with pytest.raises(WgptError, match="carries no content digest"):
        read_json(json_file, "results", "again")


def test_a_file_added_beside_a_feature_cache_is_not_damage(trained, evaluate):
    cache = next((trained.home / "features").glob("sample-speech-validation-melvq-*"))
    added = cache / "cache-0123456789abcdef.arrow"  # where datasets keeps a map() of the dataset
    added.write_bytes(b"a map's cache")
    try:
        assert evaluate() == trained.scores
    finally:
        added.unlink()


def test_the_committed_codec_weights_damaged_are_refused_with_the_way_back(tmp_path, monkeypatch):
    weights = tmp_path / codec.WEIGHTS.name
    shutil.copy(codec.WEIGHTS, weights)
    monkeypatch.setattr(codec, "WEIGHTS", weights)
    expected = content_digest(codec.load_codec(weights)[0].state_dict())
    outcomes = set()
    for data in damages(weights.read_bytes()).values():
        with damaged(weights, data):
            outcomes.add(refused_or_same(lambda: content_digest(codec.load_codec(weights)[0].state_dict()), expected))
    assert "refused" in outcomes
    with damaged(weights, flipped(weights.read_bytes(), 0.5)), pytest.raises(WgptError, match="git checkout"):
        codec.load_codec(weights)
