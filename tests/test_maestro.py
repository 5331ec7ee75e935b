"""MAESTRO v3: a local folder (and its CSV split), on stand-ins made here."""

import csv

import numpy as np
import pytest
import soundfile as sf
from corpus_checks import check_manifest, tone

import wgpt_lite as wl
from wgpt_lite import corpora
from wgpt_lite.builders import maestro
from wgpt_lite.errors import DataError


def test_maestro_loader_on_a_local_stand_in(home, tmp_path, monkeypatch):
    root = tmp_path / "maestro-v3.0.0"
    (root / "2018").mkdir(parents=True)
    pieces = [
        ("train", "Chopin", "Ballade", 45.0),
        ("train", "Bach", "Prelude", 12.0),
        ("validation", "Liszt", "Etude", 25.0),
        ("test", "Haydn", "Sonata", 35.0),
        ("train", "Bad", "Broken", 30.0),
        ("train", "Quiet", "Silence", 20.0),
        ("train", "Empty", "Nothing", 20.0),
    ]
    with open(root / maestro.MAESTRO_CSV, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["canonical_composer", "canonical_title", "split", "year", "midi_filename", "audio_filename", "duration"]
        )
        for i, (split, composer, title, seconds) in enumerate(pieces):
            stem = f"2018/piece-{i}"
            if composer == "Bad":
                (root / f"{stem}.wav").write_bytes(b"RIFF....WAVEfmt garbage")
            elif composer == "Empty":
                (root / f"{stem}.wav").write_bytes(b"")
            elif composer == "Quiet":
                sf.write(root / f"{stem}.wav", np.zeros((int(seconds * 44100), 2)), 44100)
            else:
                sf.write(root / f"{stem}.wav", tone(seconds, 44100, 110 * (i + 1), channels=2), 44100)
            (root / f"{stem}.midi").write_bytes(b"MThd")
            writer.writerow([composer, title, split, 2018, f"{stem}.midi", f"{stem}.wav", seconds])
    monkeypatch.setenv("WGPT_MAESTRO_DIR", str(root))
    path = wl.build_corpus("maestro", minutes=2, jobs=1)
    rows = check_manifest(path, corpora.SPECS["maestro"])
    assert [r["seconds"] for r in rows if r["speaker"] == "Chopin"] == [22.5, 22.5]  # 45 s -> two equal segments
    assert {r["speaker"]: r["split"] for r in rows} == {
        "Chopin": "train",
        "Bach": "train",
        "Liszt": "validation",
        "Haydn": "test",
    }
    skipped = {s["item"]: s["reason"] for s in wl.corpus_summary("maestro")["skipped"]}
    assert sorted(skipped) == ["2018/piece-4.wav", "2018/piece-5.wav", "2018/piece-6.wav"]
    assert "silent" in skipped["2018/piece-5.wav"] and "not readable" in skipped["2018/piece-6.wav"]


def test_maestro_without_a_folder_says_where_to_put_it(home, monkeypatch):
    monkeypatch.delenv("WGPT_MAESTRO_DIR", raising=False)
    with pytest.raises(DataError, match="WGPT_MAESTRO_DIR"):
        wl.build_corpus("maestro", jobs=1)
