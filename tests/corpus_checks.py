"""Helpers shared by the corpus tests: tool checks, manifest checks, test signals."""

import io
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

import wgpt_lite as wl
from wgpt_lite.data import corpora

SR = wl.SAMPLE_RATE


def needs(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    return pytest.mark.skipif(
        bool(missing), reason=f"system tool(s) {missing} not installed (see wgpt_lite/infra/system_packages.txt)"
    )


def check_manifest(path, spec):
    rows = [json.loads(line) for line in (path / "manifest.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == set(spec.splits)
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert set(row) == set(corpora.MANIFEST_KEYS)
        info = sf.info(str(path / row["path"]))
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
        assert row["seconds"] == pytest.approx(info.frames / SR, abs=1e-3)
        lo, hi = spec.clip_seconds
        assert lo <= row["seconds"] <= hi
    summary = json.loads((path / "summary.json").read_text())
    for split in spec.splits:
        assert summary["splits"][split]["clips"] == sum(r["split"] == split for r in rows)
    assert not list(path.parent.glob("*.tmp-*")), "a finished build leaves no temporary folder"
    return rows


def tone(seconds, sr, freq=220.0, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    wav = 0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.stack([wav] * channels, axis=1) if channels > 1 else wav


def flac_bytes(wav, sr):
    buffer = io.BytesIO()
    sf.write(buffer, wav, sr, format="FLAC")
    return buffer.getvalue()
