"""LibriSpeech: the hub's layouts and a local copy, on stand-ins made here."""

import pytest
from corpus_checks import check_manifest, flac_bytes, tone

import wgpt_lite as wl
from wgpt_lite import corpora
from wgpt_lite.errors import DataError


def test_librispeech_loader_on_a_local_stand_in(home, tmp_path):
    import datasets

    def split(speaker, n, corrupt=False):
        rows = {"file": [], "audio": [], "text": [], "speaker_id": [], "chapter_id": [], "id": []}
        for i in range(n):
            uid = f"{speaker}-7-{i:04d}"
            data = b"not audio at all" if corrupt and i == 1 else flac_bytes(tone(5.0, 16000, 200 + 20 * i), 16000)
            rows["file"].append(f"{uid}.flac")
            rows["audio"].append({"bytes": data, "path": f"{uid}.flac"})
            rows["text"].append(f"UTTERANCE {i}")
            rows["speaker_id"].append(speaker)
            rows["chapter_id"].append(7)
            rows["id"].append(uid)
        # the hub's layout: an Audio column stored as {bytes, path} (cast, not encoded: no torchcodec here)
        return datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio(sampling_rate=16000, decode=False))

    source = tmp_path / "librispeech-standin"
    datasets.DatasetDict(
        {"train.100": split(19, 6, corrupt=True), "validation": split(84, 2), "test": split(61, 2)}
    ).save_to_disk(str(source))
    path = wl.build_corpus("librispeech", minutes=0.5, jobs=1, source=str(source))
    rows = check_manifest(path, corpora.SPECS["librispeech"])
    train = [r for r in rows if r["split"] == "train"]
    assert train[0]["text"].startswith("UTTERANCE 0 UTTERANCE 2")  # utterances of one chapter joined
    assert {r["speaker"] for r in rows if r["split"] == "test"} == {"61"}
    skipped = wl.corpus_summary("librispeech")["skipped"]
    assert [s["item"] for s in skipped] == ["train.100/19-7-0001"] and "not a readable audio" in skipped[0]["reason"]


def test_librispeech_from_the_hub_refuses_when_offline(home, monkeypatch):
    monkeypatch.setenv("WGPT_OFFLINE", "1")
    with pytest.raises(DataError, match="WGPT_OFFLINE"):
        wl.build_corpus("librispeech", minutes=1, jobs=1)
