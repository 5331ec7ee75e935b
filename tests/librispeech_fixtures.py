"""Small LibriSpeech stand-ins in its published layouts: OpenSLR's folders and the hub's parquet files.

A layout is described as ``{split: {speaker: {chapter: n_utterances}}}``. Utterance ``i`` of a
chapter lasts 3.5, 4.0 or 4.5 s and says ``SPEAKER s CHAPTER c LINE i``; ``corrupt`` lists the
utterance ids (``s-c-iiii``, LibriSpeech's naming) whose FLAC is replaced by junk bytes.
"""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from corpus_checks import flac_bytes, tone

SR = 16_000  # LibriSpeech's sample rate
JUNK = b"not audio at all"

# the datasets features the hub's parquet files declare in their schema metadata
HUB_FEATURES = {
    "file": {"dtype": "string", "_type": "Value"},
    "audio": {"sampling_rate": SR, "_type": "Audio"},
    "text": {"dtype": "string", "_type": "Value"},
    "speaker_id": {"dtype": "int64", "_type": "Value"},
    "chapter_id": {"dtype": "int64", "_type": "Value"},
    "id": {"dtype": "string", "_type": "Value"},
}
HUB_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("audio", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        ("text", pa.string()),
        ("speaker_id", pa.int64()),
        ("chapter_id", pa.int64()),
        ("id", pa.string()),
    ],
    metadata={"huggingface": json.dumps({"info": {"features": HUB_FEATURES}})},
)


def text_of(speaker: int, chapter: int, index: int) -> str:
    return f"SPEAKER {speaker} CHAPTER {chapter} LINE {index}"


def utterances(speakers: dict, corrupt=()) -> list[dict]:
    """Every utterance of ``{speaker: {chapter: n}}``, in LibriSpeech's order, with its FLAC bytes."""
    rows = []
    for speaker, chapters in speakers.items():
        for chapter, count in chapters.items():
            for index in range(count):
                uid = f"{speaker}-{chapter}-{index:04d}"
                seconds = 3.5 + 0.5 * (index % 3)
                flac = JUNK if uid in corrupt else flac_bytes(tone(seconds, SR, 150 + 10 * index), SR)
                rows.append(
                    {
                        "id": uid,
                        "speaker": speaker,
                        "chapter": chapter,
                        "text": text_of(speaker, chapter, index),
                        "flac": flac,
                    }
                )
    return rows


def write_openslr(root: Path, splits: dict, corrupt=()) -> Path:
    """``root/LibriSpeech/<split>/<speaker>/<chapter>/`` with FLAC files and the chapter's trans.txt."""
    for split, speakers in splits.items():
        for utt in utterances(speakers, corrupt):
            chapter_dir = root / "LibriSpeech" / split / str(utt["speaker"]) / str(utt["chapter"])
            chapter_dir.mkdir(parents=True, exist_ok=True)
            (chapter_dir / f"{utt['id']}.flac").write_bytes(utt["flac"])
            with open(chapter_dir / f"{utt['speaker']}-{utt['chapter']}.trans.txt", "a") as f:
                f.write(f"{utt['id']} {utt['text']}\n")
    return root


def hub_table(speakers: dict, corrupt=()) -> pa.Table:
    """The utterances of ``{speaker: {chapter: n}}`` as rows of the hub's parquet files."""
    rows = utterances(speakers, corrupt)
    columns = {
        "file": [f"{r['id']}.flac" for r in rows],
        "audio": [{"bytes": r["flac"], "path": f"{r['id']}.flac"} for r in rows],
        "text": [r["text"] for r in rows],
        "speaker_id": [r["speaker"] for r in rows],
        "chapter_id": [r["chapter"] for r in rows],
        "id": [r["id"] for r in rows],
    }
    return pa.table(columns, schema=HUB_SCHEMA)


def write_hub_parquet(root: Path, config: str, splits: dict, rows_per_shard: int = 6, corrupt=()) -> Path:
    """``root/<config>/<split>/0000.parquet ...``: the hub's parquet layout, columns and types."""
    for split, speakers in splits.items():
        table = hub_table(speakers, corrupt)
        (root / config / split).mkdir(parents=True, exist_ok=True)
        for shard, start in enumerate(range(0, table.num_rows, rows_per_shard)):
            pq.write_table(table.slice(start, rows_per_shard), root / config / split / f"{shard:04d}.parquet")
    return root


def write_dataset_card(root: Path, configs: dict) -> Path:
    """``root/README.md`` declaring ``{config: [split, ...]}`` as the hub's parquet repo does."""
    lines = ["---", "configs:"]
    for config, splits in configs.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        lines += [line for split in splits for line in (f"  - split: {split}", f"    path: {config}/{split}/*")]
    (root / "README.md").write_text("\n".join([*lines, "---", ""]))
    return root


def write_script_repo(root: Path) -> Path:
    """A repo that still loads through a script, ``librispeech_asr/librispeech_asr.py``: datasets >= 4 refuses it."""
    repo = root / "librispeech_asr"
    repo.mkdir(parents=True)
    (repo / "librispeech_asr.py").write_text("# a dataset loading script\n")
    return repo
