"""Corpora: offline builders (tiny sizes), manifests, splits, real-corpus loaders on local stand-ins, bad input,
content fingerprints."""

import json
import os
import re
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from corpus_checks import check_manifest, needs

import wgpt_lite as wl
from wgpt_lite.data import corpora
from wgpt_lite.data.builders import common, music, speech
from wgpt_lite.infra.errors import DataError
from wgpt_lite.infra.files import inside, read_json

SR = wl.SAMPLE_RATE


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """mini-speech and mini-music at a few seconds per split, built once for this module."""
    paths = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WGPT_HOME", str(tmp_path_factory.mktemp("home")))
        if all(shutil.which(t) for t in ("espeak-ng", "flite", "text2wave", "bible")):
            paths["mini-speech"] = wl.build_corpus("mini-speech", minutes=0.5, jobs=1)
        if shutil.which("fluidsynth"):
            mp.setattr(music, "MAX_PIECE_SECONDS", 30)  # short pieces: fast renders
            paths["mini-music"] = wl.build_corpus("mini-music", minutes=0.2, jobs=1)
    return paths


def test_unknown_corpus_lists_known_names(home):
    for call in (
        lambda: wl.build_corpus("librispeach"),
        lambda: wl.features("librispeach", "train"),
        lambda: wl.read_manifest("x"),
    ):
        with pytest.raises(DataError, match="mini-speech.*mini-music.*librispeech.*maestro"):
            call()


def test_whatever_reads_a_missing_corpus_builds_it_first(home, monkeypatch, capsys):
    built = []

    def fake_build(name):
        built.append(name)
        shutil.copytree(corpora.SAMPLE_DIR / "speech", corpora.corpus_dir(name))

    monkeypatch.setattr(corpora, "build_corpus", fake_build)
    assert not corpora.is_built("mini-speech")
    rows = wl.read_manifest("mini-speech", "validation")  # what notebook 02 reads before any feature
    assert rows and built == ["mini-speech"] and "building it now" in capsys.readouterr().err
    wl.corpus_summary("mini-speech")
    assert built == ["mini-speech"], "a built corpus is not built again"


def test_an_unwritable_cache_is_named_before_any_work(home, monkeypatch):
    blocker = home / "corpora"
    blocker.write_text("a file where the corpora folder should be")
    with pytest.raises(DataError, match="corpora: the corpus folder .* is not writable"):
        wl.build_corpus("mini-music", minutes=1, jobs=1)


def test_pack_clips_joins_short_and_cuts_long_pieces():
    def seconds(n):
        return torch.full((int(n * SR),), 0.5)

    clips = common.pack_clips([seconds(5), seconds(5), seconds(5), seconds(25), seconds(3)], 8, 20)
    assert [(round(c.shape[0] / SR, 1), members) for c, members in clips] == [
        (15.0, [0, 1, 2]),
        (12.5, [3]),
        (12.5, [3]),
    ]  # the lone 3 s piece cannot reach 8 s: dropped
    gap = common.pack_clips([seconds(5), seconds(5)], 8, 20, gap=0.5)
    assert gap[0][0].shape[0] == 10.5 * SR


@needs("espeak-ng", "flite", "text2wave", "bible")
def test_mini_speech_manifest_and_disjoint_splits(built):
    path = built["mini-speech"]
    rows = check_manifest(path, corpora.SPECS["mini-speech"])
    speakers = {s: {r["speaker"] for r in rows if r["split"] == s} for s in ("train", "validation", "test")}
    books = {
        s: {r["piece"].split()[1].rstrip("0123456789:-") for r in rows if r["split"] == s}
        for s in ("train", "validation", "test")
    }
    for a, b in (("train", "validation"), ("train", "test"), ("validation", "test")):
        assert not speakers[a] & speakers[b], "a voice is in two splits"
        assert not books[a] & books[b], "a book is in two splits"
    real = [r for r in rows if r["split"] == "real"]
    assert real and all(r["source"] == "asterisk" and r["text"] for r in real)
    assert all(r["text"] for r in rows)


@needs("espeak-ng", "flite", "text2wave", "bible")
def test_speech_plan_is_stable_and_voices_never_cross_splits():
    budgets = {"train": 600, "validation": 75, "test": 75}
    voices, chunks = speech.tts_voices(), speech.bible_chunks()
    plan = speech._speech_plan(voices, chunks, budgets)
    assert plan == speech._speech_plan(list(reversed(voices)), chunks, budgets)  # sorted before seeding
    split_of = {}
    for item in plan:
        for key in (item["voice"], item["ref"].rstrip("0123456789:-")):
            assert split_of.setdefault(key, item["split"]) == item["split"]
    assert {item["voice"].engine for item in plan if item["split"] == "train"} == {"espeak-ng", "flite", "festival"}


@needs("fluidsynth")
def test_mini_music_manifest_and_pieces_in_one_split(built):
    path = built["mini-music"]
    rows = check_manifest(path, corpora.SPECS["mini-music"])
    split_of = {}
    for row in rows:
        assert split_of.setdefault(row["piece"], row["split"]) == row["split"], "a piece is in two splits"
        assert (path / row["midi"]).read_bytes()[:4] == b"MThd"
    assert any("bach/bwv" in p for p in split_of) and any("bach" not in p for p in split_of)


@needs("fluidsynth")
def test_rebuild_is_a_no_op_unless_forced(built, monkeypatch):
    path = built["mini-music"]
    monkeypatch.setenv("WGPT_HOME", str(path.parent.parent))
    before = (path / "summary.json").stat().st_mtime_ns
    monkeypatch.setattr(music, "build_mini_music", lambda *a, **k: pytest.fail("rebuilt a complete corpus"))
    assert wl.build_corpus("mini-music", minutes=0.2, jobs=1) == path
    assert (path / "summary.json").stat().st_mtime_ns == before


def test_failed_build_leaves_nothing_that_looks_built(home, monkeypatch):
    def explode(root, *args, **kwargs):
        (root / "audio" / "train").mkdir(parents=True)
        raise RuntimeError("killed half-way")

    monkeypatch.setattr(speech, "build_mini_speech", explode)
    with pytest.raises(RuntimeError):
        wl.build_corpus("mini-speech", minutes=1)
    assert not corpora.is_built("mini-speech")
    assert not list((home / "corpora").iterdir())


def test_missing_tool_names_the_debian_package(home, monkeypatch):
    monkeypatch.setattr(common.shutil, "which", lambda tool: None)
    with pytest.raises(DataError, match="apt-get install espeak-ng"):
        wl.build_corpus("mini-speech", minutes=1)
    with pytest.raises(DataError, match="apt-get install fluidsynth"):
        music.render_midi(home / "x.mid", home / "x.wav")


def test_midi_writer_roundtrips_through_music21(tmp_path):
    from music21 import converter, note

    music.write_midi([(0.0, 0.5, 60), (0.5, 1.5, 64), (0.5, 1.0, 67)], tmp_path / "t.mid")
    notes = [n for n in converter.parse(tmp_path / "t.mid").flatten().notes]
    pitches = sorted(p.midi for n in notes for p in (n.pitches if not isinstance(n, note.Note) else [n.pitch]))
    assert pitches == [60, 64, 67]


# ---------------------------------------------------------------------------
# Real corpora on local stand-ins in the same formats


def test_cli_lists_corpora_and_rejects_unknown_names(home, capsys):
    from wgpt_lite.cli import main

    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in wl.CORPORA) and "sample-speech" in listing and "train" in listing
    with pytest.raises(SystemExit):
        main(["data", "build", "librispeach"])
    assert "mini-speech" in capsys.readouterr().err


@needs("espeak-ng", "flite", "text2wave", "bible")
def test_a_failing_or_silent_voice_is_skipped_and_listed(home, monkeypatch, capsys):
    synthesize = speech.synthesize

    def flaky(voice, text, work):
        if voice.engine == "festival":
            raise wl.AudioError("text2wave failed (1): voice crashed")
        wav = synthesize(voice, text, work)
        return wav * 0 if voice.engine == "flite" else wav

    monkeypatch.setattr(speech, "synthesize", flaky)
    path = wl.build_corpus("mini-speech", minutes=0.5, jobs=1)
    rows = check_manifest(path, corpora.SPECS["mini-speech"])
    assert {r["source"] for r in rows} == {"espeak-ng", "asterisk"}
    reasons = [s["reason"] for s in wl.corpus_summary("mini-speech")["skipped"]]
    assert any("voice crashed" in r for r in reasons) and any("silent" in r for r in reasons)
    assert "skipped" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Content fingerprints


def sample_build(root, spec, budgets, jobs, source=None, config=None):
    """A quick stand-in for a builder: the committed sample's speech clips, one into each split."""
    sample = wl.read_manifest("sample-speech")
    rows = []
    for split, row in zip(spec.splits, sample * 2):
        path = f"audio/{split}/{row['id']}.wav"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpora.corpus_dir("sample-speech") / row["path"], root / path)  # a new file, a new mtime
        rows.append({**row, "split": split, "path": path})
    return rows, [], {}


@pytest.fixture
def built_from_sample(home, monkeypatch):
    monkeypatch.setattr(speech, "build_mini_speech", sample_build)
    return wl.build_corpus("mini-speech", minutes=1)


def counting_hashes(monkeypatch) -> list[str]:
    hashed, real = [], corpora.file_sha256
    monkeypatch.setattr(corpora, "file_sha256", lambda path: hashed.append(os.path.basename(path)) or real(path))
    return hashed


def test_a_build_hashes_every_clip_once_and_records_the_content_fingerprint(built_from_sample, monkeypatch):
    root = built_from_sample
    summary = wl.corpus_summary("mini-speech")
    record = read_json(root / corpora.CLIPS_RECORD, "clips", "")
    assert list(record) == [row["path"] for row in wl.read_manifest("mini-speech")]
    for path, clip in record.items():
        assert clip["bytes"] == (root / path).stat().st_size and clip["sha256"] == corpora.file_sha256(root / path)
    assert len(summary["content_sha256"]) == 64 and summary["built"].endswith("UTC")
    hashed = counting_hashes(monkeypatch)
    assert corpora.corpus_fingerprint("mini-speech") == summary["content_sha256"]
    assert hashed == [], "reading a fresh build rehashes nothing: the build recorded sizes and mtimes"


def test_the_fingerprint_follows_the_audio_and_rehashes_only_changed_clips(built_from_sample, monkeypatch):
    root = built_from_sample
    built = corpora.corpus_fingerprint("mini-speech")
    clip = root / wl.read_manifest("mini-speech", "test")[0]["path"]
    hashed = counting_hashes(monkeypatch)

    os.utime(clip, ns=(clip.stat().st_atime_ns, clip.stat().st_mtime_ns + 10**9))  # touched, same bytes
    assert corpora.corpus_fingerprint("mini-speech") == built and hashed == [clip.name]
    hashed.clear()
    assert corpora.corpus_fingerprint("mini-speech") == built and hashed == [], "the new mtime is remembered"

    size = clip.stat().st_size
    frames = sf.info(str(clip)).frames
    sf.write(clip, 0.3 * np.sin(np.arange(frames) / 7), SR, subtype="PCM_16")  # other audio, same size
    assert clip.stat().st_size == size
    assert corpora.corpus_fingerprint("mini-speech") != built and hashed == [clip.name]
    assert corpora.corpus_changes("mini-speech").startswith(
        f"mini-speech's files changed after its build of {wl.corpus_summary('mini-speech')['built']}: audio/test/"
    )
    clip.unlink()
    assert corpora.corpus_fingerprint("mini-speech") != built, "a missing clip changes it too"

    wl.build_corpus("mini-speech", minutes=1, force=True)  # the same clips again: the same corpus
    assert corpora.corpus_fingerprint("mini-speech") == built
    assert corpora.corpus_changes("mini-speech").startswith("mini-speech was rebuilt (built ")


def test_the_committed_sample_is_hashed_on_first_use_and_remembered_under_the_home(home, monkeypatch):
    files_before = sorted(corpora.SAMPLE_DIR.rglob("*"))
    hashed = counting_hashes(monkeypatch)
    first = corpora.corpus_fingerprint("sample-music")
    assert sorted(hashed) == sorted(os.path.basename(r["path"]) for r in wl.read_manifest("sample-music"))
    hashed.clear()
    assert corpora.corpus_fingerprint("sample-music") == first and hashed == []
    assert (home / "fingerprints" / "sample-music.json").is_file()
    assert sorted(corpora.SAMPLE_DIR.rglob("*")) == files_before, "nothing is written into the repository"
    assert corpora.corpus_changes("sample-music") == "sample-music's manifest or audio changed"


# ---------------------------------------------------------------------------
# Every path that a manifest or a source names stays inside its corpus


@pytest.mark.parametrize(
    "name", ["", ".", "a/..", "../x.wav", "a/../../x.wav", "/etc/x.wav", "C:x.wav", "C:\\x.wav", "a\\..\\x.wav", None]
)
def test_inside_refuses_every_way_out(tmp_path, name):
    with pytest.raises(DataError, match=rf"^SOURCE: .* is not a path inside {re.escape(str(tmp_path))} .*; FIX$"):
        inside(tmp_path, name, "SOURCE", "FIX")


def test_inside_follows_symlinks_and_keeps_names_that_stay_in(tmp_path):
    folder, elsewhere, link = tmp_path / "folder", tmp_path / "elsewhere", tmp_path / "link"
    (folder / "a").mkdir(parents=True)
    elsewhere.mkdir()
    (folder / "in").symlink_to(folder / "a")
    (folder / "out").symlink_to(elsewhere)
    link.symlink_to(folder)
    assert inside(folder, "a/../b.wav", "s", "f") == folder / "a/../b.wav"
    assert inside(folder, "in/b.wav", "s", "f") == folder / "in/b.wav"
    assert inside(link, "a/b.wav", "s", "f") == link / "a/b.wav", "the folder itself may be a symlink"
    with pytest.raises(DataError, match="'out/b.wav' is not a path inside"):
        inside(folder, "out/b.wav", "s", "f")


def test_a_manifest_path_out_of_the_corpus_is_refused_when_read(built_from_sample):
    root = corpora.corpus_dir("mini-speech")
    rows = wl.read_manifest("mini-speech")
    outside = root.parent / "outside.wav"
    shutil.copy(root / rows[0]["path"], outside)
    refused = re.escape(f"{root / 'manifest.jsonl'}: '../outside.wav' is not a path inside {root} ")
    with pytest.raises(DataError, match=refused + r".*: rebuild the corpus \(--force\)$"):
        corpora.load_clip("mini-speech", {**rows[0], "path": "../outside.wav"})
    edited = [{**rows[0], "path": "../outside.wav"}, *rows[1:]]
    (root / "manifest.jsonl").write_text("".join(json.dumps(row) + "\n" for row in edited))
    with pytest.raises(DataError, match=refused):
        corpora.corpus_fingerprint("mini-speech")
    clip = root / rows[1]["path"]
    clip.unlink()
    clip.symlink_to(outside)  # a clip that is a link out of the corpus
    with pytest.raises(DataError, match=f"'{rows[1]['path']}' is not a path inside"):
        corpora.load_clip("mini-speech", rows[1])


def test_a_clip_that_its_source_names_out_of_the_corpus_is_not_written(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    with pytest.raises(DataError, match=r"^train clip: 'audio/train/x-/\.\./\.\./\.\./\.\./escaped\.wav' is not"):
        common.save_clip(root, "train", "x-/../../../../escaped", torch.zeros(SR))
    assert list(tmp_path.rglob("*")) == [root]


def test_installed_from_a_wheel_the_sample_is_read_under_the_working_directory(home, monkeypatch, tmp_path):
    """A wheel holds no audio: an assignment's student folder keeps data/sample/ beside its notebook."""
    monkeypatch.setattr(corpora, "in_clone", lambda: False)
    monkeypatch.chdir(tmp_path)
    assert corpora.corpus_dir("sample-speech") == tmp_path / "data" / "sample" / "speech"
    with pytest.raises(DataError, match=f"copy the kit's data/sample/ folder .* to {tmp_path / 'data' / 'sample'}$"):
        wl.read_manifest("sample-speech")
    shutil.copytree(corpora.SAMPLE_DIR, tmp_path / "data" / "sample")
    assert [r["id"] for r in wl.read_manifest("sample-speech", "train")][0] == "train-00-flite-slt"
