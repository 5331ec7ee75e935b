"""LibriSpeech: the hub's layouts and a local copy, on stand-ins made here (no network)."""

import re

import pytest
from corpus_checks import check_manifest
from librispeech_fixtures import (
    SR,
    hub_table,
    text_of,
    write_dataset_card,
    write_hub_parquet,
    write_openslr,
    write_script_repo,
)

import wgpt_lite as wl
from wgpt_lite.data import corpora
from wgpt_lite.data.builders import librispeech
from wgpt_lite.infra.errors import DataError

SPEC = corpora.SPECS["librispeech"]
MINUTES = 1.5  # train 90 s, validation and test 11.25 s each
# speaker 19 alone could fill the training budget; the per-speaker share makes room for the others
TRAIN = {19: {198: 6, 227: 6}, 26: {495: 5}, 32: {4137: 5}, 39: {121914: 5}}
DEV = {84: {121123: 4}, 174: {50561: 4}}
TEST = {61: {70968: 4}, 121: {121726: 4}}
CORRUPT = "26-495-0001"  # speaker 26 has less than its share: all of it is read


def hub_layout(train="train.100", validation="validation", test="test"):
    return {train: TRAIN, validation: DEV, test: TEST}


def build(source):
    return wl.build_corpus("librispeech", minutes=MINUTES, jobs=1, force=True, source=source)


def summary():
    return wl.corpus_summary("librispeech")


def check_chapters_joined(rows):
    """Every clip holds utterances of its own speaker's chapter, in order."""
    for row in rows:
        lines = re.findall(r"SPEAKER (\d+) CHAPTER (\d+) LINE (\d+)", row["text"])
        assert {(s, f"chapter {c}") for s, c, _ in lines} == {(row["speaker"], row["piece"])}
        indices = [int(i) for *_, i in lines]
        assert indices == sorted(set(indices))


def check_speaker_spread(rows):
    train = [r for r in rows if r["split"] == "train"]
    assert {r["speaker"] for r in train} == {str(s) for s in TRAIN}
    assert len({r["piece"] for r in train if r["speaker"] == "19"}) == 1  # its share is used up within a chapter
    share = max(MINUTES * 60 / librispeech.SPEAKERS_PER_SPLIT, SPEC.clip_seconds[1])
    assert sum(r["seconds"] for r in train if r["speaker"] == "19") <= share


def check_corrupt_skipped(source_split):
    skipped = summary()["skipped"]
    assert [s["item"] for s in skipped] == [f"{source_split}/{CORRUPT}"]
    assert "not a readable audio" in skipped[0]["reason"]


def test_openslr_folder_spreads_speakers_joins_chapters_and_is_seeded(home, tmp_path):
    write_openslr(tmp_path, {"train-clean-100": TRAIN, "dev-clean": DEV, "test-clean": TEST}, corrupt={CORRUPT})
    path = build(str(tmp_path))  # the folder holding LibriSpeech/
    rows = check_manifest(path, SPEC)
    check_chapters_joined(rows)
    check_speaker_spread(rows)
    check_corrupt_skipped("train-clean-100")
    joined = next(r["text"] for r in rows if r["speaker"] == "26")
    assert joined.startswith(f"{text_of(26, 495, 0)} {text_of(26, 495, 2)}")  # the corrupt utterance left out
    about = summary()
    assert about["layout"] == "openslr" and about["speakers"]["train"] == len(TRAIN)
    assert about["source_splits"] == {"train": "train-clean-100", "validation": "dev-clean", "test": "test-clean"}

    manifest = (path / "manifest.jsonl").read_text()
    assert (build(str(tmp_path / "LibriSpeech")) / "manifest.jsonl").read_text() == manifest  # same rows again


def test_local_hub_parquet_folder(home, tmp_path):
    write_hub_parquet(tmp_path / "download", "clean", hub_layout(), corrupt={CORRUPT})
    rows = check_manifest(build(str(tmp_path / "download")), SPEC)
    check_chapters_joined(rows)
    check_speaker_spread(rows)
    check_corrupt_skipped("train.100")
    about = summary()
    assert (about["layout"], about["revision"], about["config"]) == ("parquet-folder", None, "clean")
    assert about["source_splits"] == {"train": "train.100", "validation": "validation", "test": "test"}


@pytest.fixture
def hub(monkeypatch):
    """The hub, served from local folders: ``serve(main=..., export=...)`` says what each revision holds.

    ``main``: a repo folder, read by the real ``hub_parquet_files`` (its dataset card, or the
    error datasets raises for a loading script), or an exception to raise; ``export``: a folder in
    the parquet export's layout. Returns the calls made, ``(repo, revision, config)``.
    """
    monkeypatch.delenv("WGPT_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    read_repo, calls = librispeech.hub_parquet_files, []

    def serve(main, export=None):
        def hub_parquet_files(repo, revision, config):
            calls.append((repo, revision, config))
            if revision == librispeech.PARQUET_EXPORT:
                return librispeech.parquet_split_files(str(export / config))
            if isinstance(main, Exception):
                raise main
            return read_repo(str(main), revision, config)

        monkeypatch.setattr(librispeech, "hub_parquet_files", hub_parquet_files)
        return calls

    return serve


def test_hub_parquet_at_main(home, tmp_path, hub):
    repo = write_hub_parquet(tmp_path / "main", "clean", hub_layout())
    calls = hub(main=write_dataset_card(repo, {"clean": hub_layout()}))
    check_manifest(build(None), SPEC)
    assert calls == [(librispeech.HUB_DATASET, "main", "clean")]
    about = summary()
    assert (about["source"], about["layout"], about["revision"]) == (librispeech.HUB_DATASET, "hub-parquet", "main")
    assert about["source_splits"] == {"train": "train.100", "validation": "validation", "test": "test"}


@pytest.mark.parametrize(
    "config, names",
    [
        ("clean", ("partial-train.100", "validation", "test")),
        ("all", ("train.clean.100", "validation.clean", "test.clean")),
    ],
)
def test_hub_script_repo_falls_back_to_the_parquet_export(home, tmp_path, hub, config, names):
    export = write_hub_parquet(tmp_path / "export", config, hub_layout(*names))
    calls = hub(main=write_script_repo(tmp_path), export=export)
    path = wl.build_corpus("librispeech", minutes=MINUTES, jobs=1, force=True, config=config)
    check_speaker_spread(check_manifest(path, SPEC))
    assert calls == [
        (librispeech.HUB_DATASET, "main", config),
        (librispeech.HUB_DATASET, "refs/convert/parquet", config),
    ]
    about = summary()
    assert (about["layout"], about["revision"], about["config"]) == (
        "hub-parquet-export",
        "refs/convert/parquet",
        config,
    )
    assert about["source_splits"] == dict(zip(("train", "validation", "test"), names))


def test_hub_unreachable_is_one_line_naming_dataset_and_revision(home, hub):
    hub(main=ConnectionError("Couldn't reach 'openslr/librispeech_asr' on the Hub (LocalEntryNotFoundError)"))
    with pytest.raises(DataError, match=r"openslr/librispeech_asr \(revision main\).*--source") as caught:
        wl.build_corpus("librispeech", minutes=1, jobs=1)
    assert "\n" not in str(caught.value)


def test_hub_without_the_split_says_what_it_has(home, tmp_path, hub):
    layout = {"train.360": TRAIN, "validation": DEV, "test": TEST}
    hub(main=write_dataset_card(write_hub_parquet(tmp_path / "main", "clean", layout), {"clean": layout}))
    with pytest.raises(DataError, match=r"revision main.*no train split.*train\.100.*it has: test, train\.360"):
        build(None)


def test_hub_refused_when_offline(home):
    with pytest.raises(DataError, match="WGPT_OFFLINE"):
        wl.build_corpus("librispeech", minutes=1, jobs=1)


def test_unknown_local_layout_lists_the_layouts_read(home, tmp_path):
    (tmp_path / "notes.txt").write_text("not LibriSpeech")
    with pytest.raises(DataError, match="OpenSLR.*parquet.*save_to_disk"):
        build(str(tmp_path))
    with pytest.raises(DataError, match="no such folder"):
        build(str(tmp_path / "missing" / "LibriSpeech"))


def test_unreadable_parquet_shard_is_a_data_error(home, tmp_path):
    write_hub_parquet(tmp_path, "clean", hub_layout())
    for shard in (tmp_path / "clean" / "train.100").glob("*.parquet"):
        shard.write_bytes(b"PAR1 cut off")
    with pytest.raises(DataError, match="cannot read the parquet files"):
        build(str(tmp_path))


def test_save_to_disk_folder(home, tmp_path):
    import datasets

    def saved_split(speakers):
        table = datasets.Dataset.from_dict(hub_table(speakers, corrupt={CORRUPT}).to_pydict())
        # the hub's Audio column, cast rather than encoded: encoding would need torchcodec
        return table.cast_column("audio", datasets.Audio(sampling_rate=SR, decode=False))

    source = tmp_path / "librispeech-saved"
    splits = {"train.100": TRAIN, "validation": DEV, "test": TEST}
    datasets.DatasetDict({name: saved_split(speakers) for name, speakers in splits.items()}).save_to_disk(str(source))
    rows = check_manifest(build(str(source)), SPEC)
    check_chapters_joined(rows)
    check_speaker_spread(rows)
    check_corrupt_skipped("train.100")
    assert summary()["layout"] == "save_to_disk"
