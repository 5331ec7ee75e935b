"""Feature cache: tokens and causal log-mel of every clip, computed once.

``features(corpus, split, tokenizer)`` returns a ``datasets.Dataset`` with one row per
clip: ``id`` (str), ``tokens`` (int16 list, one per 320-sample frame), ``mel``
(float16 [frames][64]) and ``seconds``. It is stored (Arrow, memory-mapped) under
``home_dir()/features/<corpus>-<split>-<tokenizer>-<key>/``, where ``key`` hashes the
split and the features' ``provenance``: every input that changes the numbers, namely the
corpus's content (manifest and audio, ``corpora.corpus_fingerprint``),
``tokenizer.settings()`` (melvq's codebook hash, the EnCodec weights' sha256), the mel
settings and ``FEATURE_VERSION``. A rebuilt corpus, a replaced clip or another codebook is
a new key, never a stale hit.

The cache fills in shards of ``SHARD_CLIPS`` clips, in manifest order, each written into a
temporary folder and renamed when complete (``<cache>.shards/shard-00003/``), so a killed
extraction resumes at the first missing shard. Shards can be made by several processes at
once (``extract_features(..., worker, workers)``: ``data features --workers N --worker I``,
or ``torchrun ... data features``); the one that finds every shard complete concatenates
them into the cache folder (written into a temporary folder and renamed) and deletes them.
The shards are fixed by the clip count, not by the number of workers, so any number of
workers, killed and resumed or not, makes the same cache. A folder is
trusted only when its ``extraction.json`` (written last) is there. It records the
provenance, the code that extracted (``code_version``) and the clips it skipped, which
every later ``features`` call lists again on stderr. Whatever is made from the features
(checkpoints, metrics logs, results) records their provenance too (``data_provenance``),
and a checkpoint is refused where it differs (``provenance_difference``).

    >>> import wgpt_lite as wl
    >>> ds = wl.features("sample-speech", "train", "melvq")   # fits melvq on train, extracts, caches
    >>> ds[0]["id"], len(ds[0]["tokens"]) == len(ds[0]["mel"])
    ('train-00-flite-slt', True)

The melvq stand-in is fitted on the training split only (``corpus_tokenizer``) and
saved under ``home_dir()/tokenizers/`` with the same kind of key and the corpus fingerprint
it was fitted on.

Extraction. Clips are read and their log-mel computed in ``EXTRACT_THREADS`` CPU
threads; melvq's tokens come from that mel. EnCodec, the expensive part, runs on its
tokenizer's device, a CUDA GPU when there is one (``default_encodec_device``):

- on a GPU, clips are sorted by length and encoded in batches of similar lengths,
  right-padded, at most ``ENCODEC_BATCH_SECONDS`` of (padded) audio a batch, while the
  threads load the next batch (``encode_batch``);
- on the CPU, clip by clip in the threads: batches were measured slower there
  (docs/benchmarks.md, "EnCodec extraction").

A progress bar counts clips, or audio seconds for batches (its rate is then the real-time
factor), with an ETA; it stays off for splits under ``PROGRESS_MIN_CLIPS`` clips.

EnCodec 24 kHz is causal, so the padding of a batch changes no kept token (exactly:
tests/test_tokenizers.py). The batch and the device change float rounding only: a batch of
one clip runs the LSTM's matrix products through other kernels than a batch of several,
and a GPU through other kernels again (TF32 too, which torch allows cuDNN on Ampere and
newer). A token can then flip where two codewords are almost equally near: 7 of 17,669
frames (0.04%) between one-by-one and batches of 8 on the CPU, with the random-init model;
GPU-vs-CPU was not measured. Either encoding is as valid as the other, so the cache key
leaves the device and the batching out; ``extraction.json`` records both.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from wgpt_lite import audio
from wgpt_lite.data.corpora import (
    corpus_fingerprint,
    corpus_spec,
    load_clip,
    read_manifest,
    report_skipped,
)
from wgpt_lite.data.provenance import EXTRACTION, FEATURE_VERSION, provenance
from wgpt_lite.infra import distributed
from wgpt_lite.infra.atomic import building_folder, clear_leftovers, publish, remove, temporary_sibling
from wgpt_lite.infra.code_version import code_version
from wgpt_lite.infra.errors import AudioError, DataError
from wgpt_lite.infra.files import folder_difference, folder_digests, made_before_seals, read_json, sealed_json
from wgpt_lite.infra.settings import home_dir
from wgpt_lite.tokenizers import (
    EncodecTokenizer,
    MelVQTokenizer,
    clip_features,
    get_tokenizer,
)

MELVQ_FIT_FRAMES = 200_000  # k-means sees at most this many training frames (evenly spaced)
MELVQ_SEED = 0
EXTRACT_THREADS = 2  # measured on 2 cores: see data/README.md
# Padded audio in one EnCodec batch: about 2 GiB of activations (16 MiB per audio second,
# measured on the CPU), well inside a 16 GB T4, and enough clips to keep it busy.
ENCODEC_BATCH_SECONDS = 120
PROGRESS_MIN_CLIPS = 20  # smaller splits extract in seconds: no progress bar
# Clips per shard: a killed extraction loses at most one shard per worker. 256 LibriSpeech
# clips are about 50 minutes of audio, enough for EnCodec's length-sorted batches on a GPU.
SHARD_CLIPS = 256
SHARD_DONE = "shard.json"  # written last into a shard: its clips, what it skipped, how long it took


def settings_key(**parts) -> str:
    """A short stable hash of JSON-able settings (sorted keys): the name of a cache entry."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def feature_key(corpus: str, split: str, tokenizer) -> str:
    """The cache key of ``features(corpus, split, tokenizer)``."""
    return settings_key(split=split, **provenance(corpus, tokenizer))


# ---------------------------------------------------------------------------
# Provenance: what features are made of, recorded by everything made from them


def _map_clips(fn, rows: list[dict], desc: str) -> list:
    """``fn(row)`` over clips in threads (soundfile, soxr and torch release the GIL), in order."""
    from tqdm.auto import tqdm

    with ThreadPoolExecutor(EXTRACT_THREADS) as pool:
        clips = tqdm(
            pool.map(fn, rows), total=len(rows), desc=desc, unit="clip", disable=len(rows) < PROGRESS_MIN_CLIPS
        )
        return list(clips)


# ---------------------------------------------------------------------------
# The melvq stand-in, fitted on the training split only


def corpus_tokenizer(corpus: str, tokenizer="auto", k: int | None = None, device: str | torch.device | None = None):
    """The tokenizer for a corpus: ``auto`` resolved; melvq fitted on its training split.

    The fitted codebook is cached under ``home_dir()/tokenizers/`` (keyed by the corpus's
    content fingerprint, k, the mel settings and the fitting recipe, which its file records)
    and loaded on later calls.
    ``k`` defaults to the corpus's ``melvq_k`` (1024; 128 for the tiny samples). EnCodec
    runs on ``device``, by default CUDA when there is one. A tokenizer object is
    returned as it is.

    >>> tok = corpus_tokenizer("sample-music", "melvq")
    >>> tok.name, tok.vocab_size
    ('melvq', 128)
    """
    if not isinstance(tokenizer, str):
        return tokenizer
    tok = get_tokenizer(tokenizer, k=k or corpus_spec(corpus).melvq_k, device=device)
    if tok.name != "melvq" or tok.fitted:
        return tok
    recipe = {
        "corpus": corpus,
        "corpus_sha256": corpus_fingerprint(corpus),
        "split": "train",
        "tokenizer": tok.settings(),
        "mel": audio.mel_settings(),
        "fit_frames": MELVQ_FIT_FRAMES,
        "seed": MELVQ_SEED,
        "version": FEATURE_VERSION,
    }
    path = home_dir() / "tokenizers" / f"melvq-{corpus}-{settings_key(**recipe)}.pt"
    if not path.is_file() or made_before_seals(path):  # an older kit's codebook has no digest: fitted again
        tok.fit(training_mels(corpus), seed=MELVQ_SEED, max_frames=MELVQ_FIT_FRAMES)
        tok.save(path, made_from={**recipe, "code": code_version()})  # atomic: temp file + rename
    fitted = MelVQTokenizer.load(path)
    fitted.auto_reason = getattr(tok, "auto_reason", "melvq requested")
    return fitted


def training_mels(corpus: str, max_frames: int = MELVQ_FIT_FRAMES) -> list[torch.Tensor]:
    """Log-mel frames of the training split, evenly thinned to about ``max_frames`` in all."""
    rows = read_manifest(corpus, "train")
    total = sum(row["seconds"] for row in rows) * audio.FRAME_RATE
    stride = max(1, int(np.ceil(total / max_frames)))
    spec = corpus_spec(corpus)  # resolved once, not per clip

    def mel_of(row):
        try:
            return audio.log_mel(load_clip(spec, row))[::stride]
        except AudioError:
            return None  # features() lists the skipped clips; the fit just does without them

    mels = [mel for mel in _map_clips(mel_of, rows, f"{corpus} train mels") if mel is not None]
    if not mels:
        raise DataError(f"{corpus}: no usable clip in its training split to fit melvq on ({len(rows)} listed)")
    return mels


# ---------------------------------------------------------------------------
# Extraction


def features(corpus: str, split: str, tokenizer="auto"):
    """Tokens + log-mel of every clip of ``corpus``/``split`` as a cached ``datasets.Dataset``.

    ``tokenizer``: ``"auto"`` | ``"encodec"`` | ``"melvq"`` or a tokenizer object. A
    missing mini corpus is built first. EnCodec encodes in batches on a GPU when there is
    one, clip by clip in CPU threads otherwise (the module's docstring says how). Unusable
    clips (unreadable, empty, silent) are skipped and listed on stderr and in the cache's
    ``extraction.json``, and listed again by every later call (whoever trains on them sees
    what they lack).
    """
    import datasets

    tok = corpus_tokenizer(corpus, tokenizer)
    final = extract_features(corpus, split, tok)
    _report_skipped(final, corpus, split)
    return datasets.load_from_disk(str(final))


def _report_skipped(final: Path, corpus: str, split: str) -> dict:
    """The cache's ``extraction.json``, checked, once its skipped clips are listed on stderr."""
    info = checked_record(final, EXTRACTION, "the feature cache", "run again: it is extracted again from the corpus")
    report_skipped(f"{corpus}/{split}", info["skipped"], "clips")
    return info


def checked_record(folder: Path, marker: str, what: str, again: str) -> dict:
    """The sealed ``marker`` JSON of a folder, once every file it lists has the digest it records;
    otherwise one ``DataError`` line naming the folder and the fix (delete it, and ``again``)."""
    fix = f"delete {folder} and {again}"
    record = read_json(folder / marker, f"{what}'s record", fix)
    difference = folder_difference(folder, record["files"])
    if difference:
        raise DataError(f"{folder}: {what} differs from what was written ({difference}); {fix}")
    return record


def feature_folder(corpus: str, split: str, tokenizer) -> Path:
    """Where the cache of ``features(corpus, split, tokenizer)`` lives (``tokenizer``: an object, for its settings)."""
    return home_dir() / "features" / f"{corpus}-{split}-{tokenizer.name}-{feature_key(corpus, split, tokenizer)}"


def extract_features(corpus: str, split: str, tokenizer="auto", worker: int = 0, workers: int = 1) -> Path | None:
    """Make the missing shards of the cache of ``corpus``/``split`` that fall to ``worker`` of ``workers``
    (every ``workers``-th, from the ``worker``-th), then, when every shard is there, the cache itself.

    Returns the cache folder once it is complete; None while other workers' shards are missing
    (the last worker to finish assembles the cache). Workers need no other coordination: run
    them at the same time or one after the other, kill them and run them again.
    """
    tok = corpus_tokenizer(corpus, tokenizer)
    rows = read_manifest(corpus, split)
    final = feature_folder(corpus, split, tok)
    shards = final.with_name(f"{final.name}.shards")
    count = math.ceil(len(rows) / SHARD_CLIPS)
    clear_leftovers(shards)  # puts back the shards of an assembly that was killed
    if made_before_seals(final / EXTRACTION):
        remove(final)  # a cache an older wgpt_lite made, with no digests to check it by: made again
    for number in range(worker, count, workers):
        shard = shards / shard_name(number)
        if (final / EXTRACTION).is_file():
            break
        if made_before_seals(shard / SHARD_DONE):
            remove(shard)  # an older kit's shard, with no digests to check it by: extracted again
        if not (shard / SHARD_DONE).is_file():
            part = rows[number * SHARD_CLIPS : (number + 1) * SHARD_CLIPS]
            desc = f"{corpus}/{split} features" + (f", shard {number + 1}/{count}" if count > 1 else "")
            _build_shard(shard, corpus, split, part, tok, desc)
    if not (final / EXTRACTION).is_file():
        if not all((shards / shard_name(number) / SHARD_DONE).is_file() for number in range(count)):
            return None  # other workers' shards are still missing
        _assemble(final, shards, count, corpus, split, tok)
    if not (final / EXTRACTION).is_file():
        return None  # another worker, finishing at the same moment, assembles it
    remove(shards)
    return final


def feature_worker(corpus: str, split: str, tokenizer="auto", workers: int = 1, worker: int = 0) -> str:
    """This process's share of the cache of ``corpus``/``split`` (``data features``), told in one line.

    ``worker`` of ``workers`` processes started by hand; under torchrun each rank is a worker
    instead, and melvq is fitted once, by rank 0, then loaded by the others. The line gives
    the cache's clips and minutes once it is complete (its skipped clips are listed on
    stderr), or says that this worker is done while others still work.
    """
    started = time.perf_counter()
    if distributed.world_size() > 1:  # under torchrun, each rank is a worker
        if workers > 1:
            raise DataError("--workers is for processes started by hand; under torchrun leave it out")
        workers, worker = distributed.world_size(), distributed.rank()
    if not 0 <= worker < workers:
        raise DataError(f"--worker {worker} is not one of the {workers} --workers; give 0 to {workers - 1}")
    with distributed.process_group():
        tok = distributed.first_on_rank_zero(corpus_tokenizer, corpus, tokenizer)
        final = extract_features(corpus, split, tok, worker, workers)
    if final is None:
        return f"{corpus}/{split}: worker {worker} of {workers} done; the last worker to finish writes the cache"
    info = _report_skipped(final, corpus, split)
    return (
        f"{corpus}/{split}: {info['clips']} clips, {info['seconds'] / 60:.1f} min, "
        f"{time.perf_counter() - started:.1f} s; cache {final}"
    )


def shard_name(number: int) -> str:
    """The folder of shard ``number`` inside ``<cache>.shards/``: zero-padded, so that names sort in order."""
    return f"shard-{number:05d}"


def _build_shard(shard: Path, corpus: str, split: str, rows: list[dict], tok, desc: str) -> None:
    started = time.perf_counter()
    with building_folder(shard) as tmp:
        kept, skipped = _extract(corpus, rows, tok, desc)
        if kept:
            _quiet_save(to_dataset(kept, f"{corpus}/{split}"), tmp)
        record = {"clips": len(kept), "skipped": skipped, "extract_seconds": time.perf_counter() - started}
        record["files"] = folder_digests(tmp, SHARD_DONE)
        (tmp / SHARD_DONE).write_text(sealed_json(record))  # last: marks it complete
        publish(tmp, shard, SHARD_DONE)


def _assemble(final: Path, shards: Path, count: int, corpus: str, split: str, tok) -> None:
    """The cache folder from ``count`` complete shards, in order; then the shards are deleted."""
    import datasets

    names = [shard_name(number) for number in range(count)]
    again = "run again: that shard is extracted again"
    records = [checked_record(shards / name, SHARD_DONE, "a shard of the feature cache", again) for name in names]
    skipped = [item for record in records for item in record["skipped"]]
    if not any(record["clips"] for record in records):
        remove(shards)  # nothing in them to keep: mending the corpus changes its fingerprint, hence the key
        raise DataError(f"{corpus}/{split}: no usable clip ({len(skipped)} skipped, e.g. {skipped[:1]})")
    claimed = temporary_sibling(shards, "old")  # put back by clear_leftovers if this process dies
    try:
        os.replace(shards, claimed)  # of workers finishing together, the one whose rename succeeds assembles
    except FileNotFoundError:
        return
    with building_folder(final) as tmp:
        parts = [
            datasets.load_from_disk(str(claimed / name)) for name, record in zip(names, records) if record["clips"]
        ]
        dataset = datasets.concatenate_datasets(parts)  # the description: "corpus/split" (batches.py names it)
        _quiet_save(dataset, tmp)
        info = {
            "split": split,
            "provenance": provenance(corpus, tok),  # what the key was made of
            # where the tokenizer was loaded from: information for people, its settings() identify it
            "tokenizer_file": str(getattr(tok, "weights", None) or getattr(tok, "path", None)),
            "code": code_version(),
            "clips": len(dataset),
            "seconds": round(sum(dataset["seconds"]), 2),
            "extract_seconds": round(sum(record["extract_seconds"] for record in records), 2),  # over all workers
            "shards": count,
            "device": str(getattr(tok, "device", "cpu")),
            "batched": encodes_in_batches(tok),
            "skipped": skipped,
            "files": folder_digests(tmp, EXTRACTION),
        }
        (tmp / EXTRACTION).write_text(sealed_json(info, indent=1))  # last: marks it complete
        publish(tmp, final, EXTRACTION)
    remove(claimed)


def _quiet_save(dataset, path: Path) -> None:
    """save_to_disk without datasets' per-shard progress bar (our own bar already ran)."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        dataset.save_to_disk(str(path))
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _cached_row(tok, clip_id: str, tokens: torch.Tensor, mel: torch.Tensor) -> tuple[str, np.ndarray, np.ndarray]:
    """(id, int16 tokens, float16 mel) as the cache stores a clip, once they are checked to align."""
    if tokens.shape[0] != mel.shape[0]:
        raise DataError(f"{tok.name} gave {tokens.shape[0]} tokens for {mel.shape[0]} mel frames")
    return clip_id, tokens.cpu().numpy().astype(np.int16), mel.cpu().numpy().astype(np.float16)


def encodes_in_batches(tok) -> bool:
    """EnCodec off the CPU encodes batches of clips; on the CPU, clip by clip in threads is faster."""
    return isinstance(tok, EncodecTokenizer) and tok.device.type != "cpu"


def length_batches(seconds: list[float], max_seconds: float) -> list[list[int]]:
    """Clip indices grouped by length, shortest first: a batch padded to its longest clip holds
    at most ``max_seconds`` of audio (a clip longer than that is a batch of its own).

    >>> length_batches([3.0, 9.0, 1.0, 2.5, 20.0], max_seconds=10)
    [[2, 3, 0], [1], [4]]
    """
    batches: list[list[int]] = []
    for index in sorted(range(len(seconds)), key=seconds.__getitem__):
        if batches and (len(batches[-1]) + 1) * seconds[index] <= max_seconds:  # sorted: this clip is the longest
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


def _extract(corpus: str, rows: list[dict], tok, desc: str) -> tuple[list, list[dict]]:
    """(kept clips as ``_cached_row`` triples, skipped clips with their reasons) of ``rows``, in order."""
    spec = corpus_spec(corpus)  # resolved once, not per clip

    def one(row):
        try:
            return _cached_row(tok, row["id"], *clip_features(load_clip(spec, row), tok))
        except AudioError as err:
            return {"item": row["path"], "reason": str(err)}

    with torch.inference_mode():
        results = (
            _encode_in_batches(corpus, rows, tok, desc) if encodes_in_batches(tok) else _map_clips(one, rows, desc)
        )
    return [r for r in results if isinstance(r, tuple)], [r for r in results if isinstance(r, dict)]


def _encode_in_batches(corpus: str, rows: list[dict], tok: EncodecTokenizer, desc: str) -> list:
    """``_extract``'s per-clip results, in manifest order, from EnCodec batches of similar lengths."""
    from tqdm.auto import tqdm

    spec = corpus_spec(corpus)  # resolved once, not per clip

    def load(row):
        try:
            wav = load_clip(spec, row)
        except AudioError as err:
            return {"item": row["path"], "reason": str(err)}
        return wav, audio.log_mel(wav)

    results: list = [None] * len(rows)
    batches = length_batches([row["seconds"] for row in rows], ENCODEC_BATCH_SECONDS)
    bar = tqdm(
        total=sum(row["seconds"] for row in rows),
        desc=f"{desc}, EnCodec on {tok.device} (audio s)",  # the rate is then the real-time factor
        unit="s",
        unit_scale=True,
        disable=len(rows) < PROGRESS_MIN_CLIPS,
    )
    with ThreadPoolExecutor(EXTRACT_THREADS) as pool, bar:
        for batch, loaded in _loaded_batches(pool, load, rows, batches):
            usable = []
            for i, clip in zip(batch, loaded):
                if isinstance(clip, dict):
                    results[i] = clip  # skipped: the reason
                else:
                    usable.append((i, *clip))
            if usable:
                tokens = tok.encode_batch([wav for _, wav, _ in usable])
                for (i, _, mel), clip_tokens in zip(usable, tokens):
                    results[i] = _cached_row(tok, rows[i]["id"], clip_tokens, mel)
            bar.update(sum(rows[i]["seconds"] for i in batch))
    return results


def _loaded_batches(pool: ThreadPoolExecutor, load, rows: list[dict], batches: list[list[int]]):
    """(batch, ``load`` of each of its rows) in turn; the pool loads the next batch while the caller
    works on this one, and never more than that (a split's audio need not fit in memory)."""
    next_loading = None
    for number, batch in enumerate(batches):
        loading = next_loading or [pool.submit(load, rows[i]) for i in batch]
        if number + 1 < len(batches):
            next_loading = [pool.submit(load, rows[i]) for i in batches[number + 1]]
        yield batch, [future.result() for future in loading]


def feature_schema():
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.List(datasets.Value("int16")),
            "mel": datasets.List(datasets.List(datasets.Value("float16"), length=audio.N_MELS)),
            "seconds": datasets.Value("float64"),
        }
    )


def to_dataset(clips: list[tuple[str, np.ndarray, np.ndarray]], description: str):
    """(id, int16 tokens, float16 mel) triples -> Dataset, built as Arrow arrays (no per-frame Python)."""
    import datasets
    import pyarrow as pa

    lengths = np.array([len(tokens) for _, tokens, _ in clips])
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    mel_values = pa.array(np.concatenate([mel for _, _, mel in clips]).reshape(-1))
    table = pa.table(
        {
            "id": [clip_id for clip_id, _, _ in clips],
            "tokens": pa.ListArray.from_arrays(offsets, pa.array(np.concatenate([t for _, t, _ in clips]))),
            "mel": pa.ListArray.from_arrays(offsets, pa.FixedSizeListArray.from_arrays(mel_values, audio.N_MELS)),
            "seconds": pa.array(lengths * audio.HOP / audio.SAMPLE_RATE, type=pa.float64()),
        }
    )
    schema = feature_schema()
    info = datasets.DatasetInfo(description=description, features=schema)
    return datasets.Dataset(datasets.table.InMemoryTable(table.cast(schema.arrow_schema)), info=info)
