"""MAESTRO v3 on stand-ins made here: a local folder (and its CSV split), a subset fetched from a served zip."""

import csv
import io
import os
import random
import re
import socket
import subprocess
import sys
import threading
import zipfile
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf
from corpus_checks import check_manifest, tone

import wgpt_lite as wl
from wgpt_lite.data import corpora, remote_zip
from wgpt_lite.data.builders import maestro
from wgpt_lite.data.builders.common import MAX_PIECE_SECONDS
from wgpt_lite.infra.errors import DataError


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
    with pytest.raises(DataError, match="data fetch maestro --hours H.*WGPT_MAESTRO_DIR"):
        wl.build_corpus("maestro", jobs=1)


# ---------------------------------------------------------------------------
# Fetching a subset out of the published zip, from a zip laid out like MAESTRO's served on 127.0.0.1.

ZIP, CSV = "/maestro-v3.0.0.zip", "/maestro-v3.0.0.csv"
CSV_HEADER = ["canonical_composer", "canonical_title", "split", "year", "midi_filename", "audio_filename", "duration"]
ZIP_PIECES = [  # split, composer, title, seconds: 1 minute of training audio takes some of each split, not all
    ("train", "Chopin", "Ballade", 24.0),
    ("train", "Bach", "Prelude", 18.0),
    ("train", "Liszt", "Etude", 22.0),
    ("train", "Mozart", "Sonata", 15.0),
    ("train", "Brahms", "Intermezzo", 20.0),
    ("train", "Schumann", "Kinderszenen", 16.0),
    ("validation", "Ravel", "Ondine", 12.0),
    ("validation", "Debussy", "Reflets", 14.0),
    ("validation", "Scriabin", "Etude", 11.0),
    ("test", "Schubert", "Impromptu", 13.0),
    ("test", "Grieg", "Nocturne", 11.0),
    ("test", "Rachmaninoff", "Prelude", 12.0),
]


@pytest.fixture(scope="module")
def published():
    """``{url path: bytes}`` of a small MAESTRO: its CSV, and a ZIP64-member zip of the CSV, WAVs and MIDIs."""
    table, archive = io.StringIO(), io.BytesIO()
    writer = csv.writer(table)
    writer.writerow(CSV_HEADER)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for i, (split, composer, title, seconds) in enumerate(ZIP_PIECES):
            stem = f"2018/MIDI-Unprocessed_{i:02d}_R1_2018_wav--{i % 3 + 1}"
            writer.writerow([composer, title, split, 2018, f"{stem}.midi", f"{stem}.wav", seconds])
            wav = io.BytesIO()
            sf.write(wav, tone(seconds, 16_000, 110 * (i + 1)), 16_000, format="WAV")
            with z.open(f"maestro-v3.0.0/{stem}.wav", "w", force_zip64=True) as member:  # as the real >4 GB zip
                member.write(wav.getvalue())
            z.writestr(f"maestro-v3.0.0/{stem}.midi", b"MThd" + bytes([i]) * 64)
        z.writestr("maestro-v3.0.0/maestro-v3.0.0.csv", table.getvalue())
    return {CSV: table.getvalue().encode(), ZIP: archive.getvalue()}


@contextmanager
def serving(files: dict, ranges: bool = True):
    """An HTTP server on 127.0.0.1 for ``files``; yields its URL and the list of (path, first, last) it sent."""
    sent = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path not in files:
                self.send_error(404)
                return
            body = files[self.path]
            asked = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
            first, last = (int(asked[1]), min(int(asked[2]), len(body) - 1)) if asked and ranges else (0, len(body) - 1)
            self.send_response(206 if asked and ranges else 200)
            if asked and ranges:
                self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
            self.send_header("Content-Length", str(last + 1 - first))
            self.end_headers()
            sent.append((self.path, first, last))
            with suppress(ConnectionError):  # a client that stops reading (it refused a whole zip)
                self.wfile.write(body[first : last + 1])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", sent
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def online(monkeypatch):
    for name in ("WGPT_OFFLINE", "HF_HUB_OFFLINE", "WGPT_MAESTRO_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a proxy set for the real network must not take loopback
    monkeypatch.setenv("no_proxy", "127.0.0.1")


def directory_offset(zip_bytes: bytes) -> int:
    """Where the central directory starts: a field of the end-of-central-directory record, the zip's last 22 bytes."""
    return int.from_bytes(zip_bytes[-6:-2], "little")


def members_read(zip_bytes: bytes, sent: list) -> set[str]:
    """The zip members whose bytes the server sent (a member spans up to the next one, or the central directory)."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        starts = sorted((info.header_offset, info.filename) for info in z.infolist())
    starts.append((directory_offset(zip_bytes), ""))
    reads = [(first, last) for path, first, last in sent if path == ZIP and (first, last) != (0, 0)]  # not the probe
    return {
        name
        for (start, name), (end, _) in zip(starts, starts[1:])
        if any(first < end and last >= start for first, last in reads)
    }


def expected_pieces(csv_bytes: bytes, hours: float) -> set[str]:
    """The rule, restated: per split, the rows in a seeded shuffle, taken until the split's seconds are reached."""
    rows = sorted(csv.DictReader(io.StringIO(csv_bytes.decode())), key=lambda row: row["audio_filename"])
    random.Random(corpora.SEED).shuffle(rows)
    eval_seconds = hours * 3600 * corpora.EVAL_FRACTION
    budgets = {"train": hours * 3600, "validation": eval_seconds, "test": eval_seconds}
    chosen = set()
    for split, seconds in budgets.items():
        taken = 0.0
        for row in rows:
            if row["split"] == split and taken < seconds:
                chosen.add(row["audio_filename"])
                taken += min(float(row["duration"]), MAX_PIECE_SECONDS)
    return chosen


def zip_member(zip_bytes: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        return z.read(f"maestro-v3.0.0/{name}")


def test_fetch_takes_the_planned_pieces_reads_only_them_and_builds(home, online, published):
    with serving(published) as (url, sent):
        dest = maestro.fetch_maestro(1 / 60, zip_url=url + ZIP, csv_url=url + CSV, timeout=5)
    assert dest == maestro.default_maestro_dir()
    wavs = {str(p.relative_to(dest)) for p in dest.rglob("*.wav")}
    assert wavs == expected_pieces(published[CSV], 1 / 60)
    splits = {row[5]: row[2] for row in csv.reader(io.StringIO(published[CSV].decode()))}
    assert {splits[w] for w in wavs} == {"train", "validation", "test"} and len(wavs) < len(ZIP_PIECES)
    fetched = wavs | {w.replace(".wav", ".midi") for w in wavs}
    files = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert files == fetched | {maestro.MAESTRO_CSV, maestro.FETCH_NOTE}
    for name in fetched:
        assert (dest / name).read_bytes() == zip_member(published[ZIP], name)
    # only the chosen members' bytes crossed the wire, plus a few small reads of the zip's end
    assert members_read(published[ZIP], sent) == {f"maestro-v3.0.0/{name}" for name in fetched}
    assert 1 <= len([r for r in sent if r[0] == ZIP and r[1] >= directory_offset(published[ZIP])]) <= 4
    note = (dest / maestro.FETCH_NOTE).read_text()
    assert "CC BY-NC-SA 4.0" in note and f"seed {corpora.SEED}" in note and "--minutes 1" in note

    # the build finds the fetched folder by itself and takes exactly the fetched pieces
    rows = check_manifest(wl.build_corpus("maestro", minutes=1, jobs=1), corpora.SPECS["maestro"])
    assert {row["midi"] for row in rows} == {w.replace(".wav", ".midi") for w in wavs}
    with pytest.MonkeyPatch.context() as offline:  # offline, a build that needs more pieces names the fetch
        offline.setenv("WGPT_OFFLINE", "1")
        with pytest.raises(DataError, match=r"not fetched; run: python -m wgpt_lite data fetch maestro --hours 0\.04"):
            wl.build_corpus("maestro", minutes=2, jobs=1, force=True)


def test_a_first_build_online_fetches_what_it_needs(home, online, published, monkeypatch):
    asked = []
    fetch = maestro.fetch_maestro
    with serving(published) as (url, sent):

        def fetch_from_the_test_server(hours):
            asked.append(hours)
            return fetch(hours, zip_url=url + ZIP, csv_url=url + CSV, timeout=5)

        monkeypatch.setattr(maestro, "fetch_maestro", fetch_from_the_test_server)
        rows = wl.read_manifest("maestro")  # nothing fetched or built: the first reader gets the default 10 h
        assert asked == [10.0] and {row["split"] for row in rows} == {"train", "validation", "test"}
        wl.build_corpus("maestro", minutes=1, jobs=1, force=True)
    assert asked == [10.0], "a folder that already holds the pieces is not fetched again"


def test_fetch_again_keeps_whole_files_and_refetches_broken_ones(home, online, published, tmp_path):
    dest = tmp_path / "maestro"
    with serving(published) as (url, sent):
        maestro.fetch_maestro(1 / 60, dest, zip_url=url + ZIP, csv_url=url + CSV, timeout=5)
        sent.clear()
        maestro.fetch_maestro(1 / 60, dest, zip_url=url + ZIP, csv_url=url + CSV, timeout=5)
        assert members_read(published[ZIP], sent) == set() and all(path == ZIP for path, *_ in sent)

        killed, truncated = sorted(dest.rglob("*.wav"))[:2]  # a fetch killed while writing one, a file cut short
        killed.rename(killed.with_name(killed.name + ".tmp-99999"))
        truncated.write_bytes(truncated.read_bytes()[:1000])
        sent.clear()
        maestro.fetch_maestro(1 / 60, dest, zip_url=url + ZIP, csv_url=url + CSV, timeout=5)
    assert members_read(published[ZIP], sent) == {f"maestro-v3.0.0/{p.relative_to(dest)}" for p in (killed, truncated)}
    for path in (killed, truncated):
        assert path.read_bytes() == zip_member(published[ZIP], str(path.relative_to(dest)))
    assert not list(dest.rglob("*.tmp-*"))


def test_fetch_refuses_a_server_that_ignores_range(home, online, published, tmp_path):
    with serving(published, ranges=False) as (url, sent):
        with pytest.raises(DataError, match="ignores Range requests"):
            maestro.fetch_maestro(1 / 60, tmp_path, zip_url=url + ZIP, csv_url=url + CSV, timeout=5)
    assert not list(tmp_path.rglob("*.wav"))


def test_fetch_offline_says_what_to_do_instead(home, published, tmp_path):
    with serving(published) as (url, sent):
        with pytest.raises(DataError, match="WGPT_OFFLINE is set.*--source DIR or WGPT_MAESTRO_DIR"):
            maestro.fetch_maestro(1 / 60, tmp_path, zip_url=url + ZIP, csv_url=url + CSV)
    assert sent == []


def test_fetch_failures_are_one_line_errors(home, online, published, tmp_path):
    with serving(published) as (url, sent):
        with pytest.raises(DataError, match=f"{url}/missing.csv: HTTP 404"):
            maestro.fetch_maestro(1 / 60, tmp_path / "a", zip_url=url + ZIP, csv_url=url + "/missing.csv", timeout=5)
        (tmp_path / "file").write_text("")
        with pytest.raises(DataError, match="--dest folder is not writable"):
            maestro.fetch_maestro(1 / 60, tmp_path / "file" / "b", zip_url=url + ZIP, csv_url=url + CSV, timeout=5)
    extra_row = "Nobody,Nothing,train,2018,2018/absent.midi,2018/absent.wav,600\n"
    published_with_an_absent_piece = {**published, CSV: published[CSV] + extra_row.encode()}
    with serving(published_with_an_absent_piece) as (url, sent):
        with pytest.raises(DataError, match=f"{url}{ZIP} has no member maestro-v3.0.0/2018/absent"):
            maestro.fetch_maestro(10, tmp_path / "c", zip_url=url + ZIP, csv_url=url + CSV, timeout=5)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(DataError, match="timeout 0.2 s"):
            maestro.fetch_maestro(1 / 60, tmp_path / "d", zip_url=url + ZIP, csv_url=url + CSV, timeout=0.2)


def test_cli_fetch_refuses_offline_and_bad_hours_in_one_line(home, capsys):
    from wgpt_lite.cli import main

    assert main(["data", "fetch", "maestro", "--hours", "0.5"]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
    for hours in ("0", "nan", "inf", "-1"):
        with pytest.raises(SystemExit):
            main(["data", "fetch", "maestro", "--hours", hours])
        assert "is not a positive number" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Nothing the fetch downloads or unpacks lands outside --dest.


def files_outside(top, dest) -> set:
    """Every path under ``top`` but outside ``dest``."""
    return {path for path in top.rglob("*") if path != dest and dest not in path.parents}


def published_naming(name: str) -> dict:
    """A CSV with one piece named ``name`` and a zip holding that very member, as a hostile server would serve."""
    table, archive = io.StringIO(), io.BytesIO()
    writer = csv.writer(table)
    writer.writerow(CSV_HEADER)
    writer.writerow(["Nobody", "Escape", "train", 2018, name.replace(".wav", ".midi"), name, 600])
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"maestro-v3.0.0/{name}", b"RIFF" + bytes(64))
        z.writestr(f"maestro-v3.0.0/{name.replace('.wav', '.midi')}", b"MThd")
    return {CSV: table.getvalue().encode(), ZIP: archive.getvalue()}


@pytest.mark.parametrize("name", ["../../../escaped.wav", "ABSOLUTE/escaped.wav", "2018\\..\\..\\escaped.wav"])
def test_fetch_refuses_a_csv_naming_files_outside_dest(home, online, tmp_path, name):
    name = name.replace("ABSOLUTE", str(tmp_path / "absolute"))
    dest = tmp_path / "a" / "b" / "dest"
    dest.mkdir(parents=True)
    before = files_outside(tmp_path, dest)
    with serving(published_naming(name)) as (url, sent):
        refused = rf"maestro-v3\.0\.0\.csv: '.*escaped\.wav' is not a path inside {re.escape(str(dest))} "
        with pytest.raises(DataError, match=refused):
            maestro.fetch_maestro(1 / 60, dest, zip_url=url + ZIP, csv_url=url + CSV, timeout=5)
    assert files_outside(tmp_path, dest) == before
    assert all(path == CSV for path, *_ in sent), "refused before the zip is opened"


def test_fetch_refuses_a_symlink_out_of_dest(home, online, published, tmp_path):
    dest, elsewhere = tmp_path / "dest", tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest.mkdir()
    (dest / "2018").symlink_to(elsewhere)  # every piece of the stand-in lies under 2018/
    with serving(published) as (url, sent):
        with pytest.raises(DataError, match=r"'2018/MIDI-.*' is not a path inside .* or a symlink\)"):
            maestro.fetch_maestro(1 / 60, dest, zip_url=url + ZIP, csv_url=url + CSV, timeout=5)
    assert not any(elsewhere.iterdir())


def test_extract_members_writes_only_inside_dest(home, online, tmp_path):
    """The zip reader keeps its own guard, whoever lists the members."""
    dest, absolute = tmp_path / "dest", str(tmp_path / "absolute.wav")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for member in (absolute, "maestro-v3.0.0/../escaped.wav"):
            z.writestr(member, b"RIFF")
    with serving({ZIP: archive.getvalue()}) as (url, sent):
        for member, path in ((absolute, absolute), ("maestro-v3.0.0/../escaped.wav", "../escaped.wav")):
            refused = f"{url}{ZIP}, member {member}: '{path}' is not a path inside {dest}"
            with pytest.raises(DataError, match=re.escape(refused)):
                remote_zip.extract_members(url + ZIP, dest, {member: path}, timeout=5)
    assert sent == [] and not any(tmp_path.iterdir())


def declaring(zip_bytes: bytes, name: str, size: int) -> bytes:
    """``zip_bytes`` with the uncompressed size the central directory declares for member ``name`` set to ``size``."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        offset = z.getinfo(name).header_offset
    entry = next(
        at
        for at in range(directory_offset(zip_bytes), len(zip_bytes))
        if zip_bytes.startswith(b"PK\x01\x02", at) and int.from_bytes(zip_bytes[at + 42 : at + 46], "little") == offset
    )
    return zip_bytes[: entry + 24] + size.to_bytes(4, "little") + zip_bytes[entry + 28 :]


def test_a_member_not_the_size_it_declares_is_refused_and_leaves_no_file(home, online, tmp_path, monkeypatch):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:  # stored: its bytes end where the compressed size says
        z.writestr("maestro-v3.0.0/2018/piece.wav", b"RIFF" + bytes(996))
    members = {"maestro-v3.0.0/2018/piece.wav": "2018/piece.wav"}
    dest = tmp_path / "dest"
    dest.mkdir()
    with serving({ZIP: declaring(archive.getvalue(), *members, 2000)}) as (url, sent):
        with pytest.raises(DataError, match="piece.wav: the zip declares 2000 bytes, 1000 arrived; "):
            remote_zip.extract_members(url + ZIP, dest, members, timeout=5)
        assert not [path for path in dest.rglob("*") if path.is_file()]

        monkeypatch.setattr(remote_zip, "MAX_MEMBER_BYTES", 999)
        sent.clear()
        with pytest.raises(DataError, match=r"member maestro-v3.0.0/2018/piece.wav declares 0.0 GB, more than"):
            remote_zip.extract_members(url + ZIP, dest, members, timeout=5)
        assert not [path for path in dest.rglob("*") if path.is_file()]
        assert not members_read(declaring(archive.getvalue(), *members, 2000), sent), "refused before its bytes"


def test_cli_refuses_a_csv_naming_files_outside_dest_in_one_line(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / maestro.MAESTRO_CSV).write_bytes(published_naming("../escaped.wav")[CSV])  # no download needed
    env = {key: value for key, value in os.environ.items() if key != "WGPT_OFFLINE"}
    result = subprocess.run(
        [sys.executable, "-m", "wgpt_lite", "data", "fetch", "maestro", "--hours", "0.01", "--dest", str(dest)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    (told,) = result.stderr.splitlines()
    assert result.returncode == 1
    assert told.startswith(f"error: {dest / maestro.MAESTRO_CSV}: '../escaped.wav' is not a path inside {dest} ")
    assert sorted(tmp_path.rglob("*")) == [dest, dest / maestro.MAESTRO_CSV]
