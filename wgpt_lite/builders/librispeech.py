"""LibriSpeech, cut into 8-20 s clips like the offline speech corpus.

Hugging Face ``datasets`` (streamed from the hub, or a local ``save_to_disk`` folder).
Audio is taken as encoded bytes and decoded with soundfile, since ``datasets``' own
audio decoding needs torchcodec. Utterances of one chapter are joined into clips.
"""

from __future__ import annotations

from pathlib import Path

from wgpt_lite.audio import decode_audio_bytes, load_audio
from wgpt_lite.builders.common import pack_clips, save_clip
from wgpt_lite.corpora import SILENT_PEAK, CorpusSpec
from wgpt_lite.errors import AudioError, DataError
from wgpt_lite.settings import offline

LIBRISPEECH_DATASET = "openslr/librispeech_asr"
LIBRISPEECH_CONFIG = "clean"
LIBRISPEECH_SPLITS = {"train": "train.100", "validation": "validation", "test": "test"}


def _load_hf_split(source: str, config: str, split: str):
    """One split of a hub dataset (streamed) or of a local ``save_to_disk`` folder, audio undecoded."""
    import datasets

    if Path(source).exists():
        loaded = datasets.load_from_disk(source)
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise DataError(f"{source} has no split {split!r}; it has {', '.join(loaded)}")
            loaded = loaded[split]
    elif offline():
        raise DataError(
            f"{source}: WGPT_OFFLINE is set, so the hub cannot be reached; pass a local "
            "save_to_disk folder as --source, or unset WGPT_OFFLINE"
        )
    else:
        loaded = datasets.load_dataset(source, config, split=split, streaming=True)
    # datasets' own audio decoding needs torchcodec: take the encoded bytes instead
    return loaded.cast_column("audio", datasets.Audio(decode=False))


def _decode_row_audio(audio: dict, name: str):
    if audio.get("bytes"):
        return decode_audio_bytes(audio["bytes"], name)
    if audio.get("path") and Path(audio["path"]).is_file():
        return load_audio(audio["path"])
    raise AudioError(f"{name}: the row has neither audio bytes nor a readable file")


def build_librispeech(
    root: Path, spec: CorpusSpec, budgets: dict, jobs: int, source: str | None = None, config: str | None = None
) -> tuple[list, list, dict]:
    """Utterances of each chapter, in dataset order, joined or cut into 8-20 s clips."""
    source, config = source or LIBRISPEECH_DATASET, config or LIBRISPEECH_CONFIG
    rows, skipped = [], []
    for split, hf_split in LIBRISPEECH_SPLITS.items():
        seconds, group, pieces, metas = 0.0, None, [], []

        def flush():
            nonlocal seconds
            for clip, members in pack_clips(pieces, *spec.clip_seconds):
                first = metas[members[0]]
                row = save_clip(
                    root,
                    split,
                    f"{split}-{len(rows):06d}-{first['id']}",
                    clip,
                    source="librispeech",
                    speaker=str(first["speaker_id"]),
                    piece=f"chapter {first['chapter_id']}",
                    text=" ".join(metas[i]["text"] for i in members),
                )
                rows.append(row)
                seconds += row["seconds"]
            pieces.clear()
            metas.clear()

        for example in _load_hf_split(source, config, hf_split):
            if seconds >= budgets[split]:
                break
            if (example["speaker_id"], example["chapter_id"]) != group:
                flush()
                group = (example["speaker_id"], example["chapter_id"])
            name = f"{hf_split}/{example['id']}"
            try:
                wav = _decode_row_audio(example["audio"], name)
            except AudioError as err:
                skipped.append({"item": name, "reason": str(err)})
                continue
            if float(wav.abs().max()) < SILENT_PEAK:
                skipped.append({"item": name, "reason": "silent (peak below -60 dBFS)"})
                continue
            pieces.append(wav)
            metas.append(example)
        flush()
    return rows, skipped, {"source": source, "config": config, "hf_splits": LIBRISPEECH_SPLITS}
