"""Provenance: what features are made of, recorded by everything made from them.

Every input that changes the numbers, each by its fingerprint: the corpus's content
(``corpora.corpus_fingerprint``), the tokenizer's identity (``settings()``: melvq's codebook
hash, the EnCodec weights' sha256), the mel settings and ``FEATURE_VERSION``. Feature caches,
checkpoints, metrics logs and results record it; loading a checkpoint compares it
(``provenance_difference``) and refuses, in one line, a model trained on other data.
"""

from __future__ import annotations

from pathlib import Path

from wgpt_lite import audio
from wgpt_lite.data.corpora import corpus_changes, corpus_fingerprint
from wgpt_lite.infra.files import read_json
from wgpt_lite.tokenizers import short_hash, tokenizer_difference

FEATURE_VERSION = 1  # bump when extraction changes in a way no setting below captures


EXTRACTION = "extraction.json"  # written last into a cache folder: what made it, what it skipped


def provenance(corpus: str, tokenizer) -> dict:
    """What the features of ``corpus`` by ``tokenizer`` are made of, each part by its fingerprint:
    the corpus's content, the tokenizer's identity (``settings()``), the mel settings, the extraction.

    Feature caches, checkpoints, metrics logs and results record it; loading a checkpoint
    compares it (``provenance_difference``).
    """
    return {
        "corpus": corpus,
        "corpus_sha256": corpus_fingerprint(corpus),
        "tokenizer": tokenizer.settings(),
        "mel": audio.mel_settings(),
        "features": FEATURE_VERSION,
    }


def data_provenance(dataset) -> dict | None:
    """The ``provenance`` of a ``features`` Dataset, from its cache folder; None for data made otherwise."""
    cache_files = getattr(dataset, "cache_files", None)
    if not cache_files:
        return None  # in memory: not from the feature cache
    info = Path(cache_files[0]["filename"]).parent / EXTRACTION
    if not info.is_file():
        return None
    return read_json(info, "the feature cache's record", f"delete {info.parent} and run again").get("provenance")


def provenance_difference(then: dict | None, now: dict | None) -> str | None:
    """How the provenance of a model's training data (``then``) differs from that of the data it
    is given ``now``, in words; None when they are the same.

    >>> then = {"corpus": "mini-speech", "corpus_sha256": "5e6f" * 16, "features": 1, "mel": {},
    ...         "tokenizer": {"name": "melvq", "k": 1024, "codebook_sha256": "1a2b" * 16}}
    >>> now = {**then, "tokenizer": {**then["tokenizer"], "codebook_sha256": "9f8e" * 16}}
    >>> provenance_difference(then, now)
    'melvq codebook 1a2b1a2b… at training, 9f8e9f8e… now'
    """
    if then == now:
        return None
    if then is None or now is None:
        return f"{_origin(then)} at training, {_origin(now)} now"
    differences = [tokenizer_difference(then["tokenizer"], now["tokenizer"])]
    if then["corpus"] != now["corpus"]:
        differences.append(f"corpus {then['corpus']} at training, {now['corpus']} now")
    elif then["corpus_sha256"] != now["corpus_sha256"]:
        differences.append(
            f"{now['corpus']} content {short_hash(then['corpus_sha256'])} at training, "
            f"{short_hash(now['corpus_sha256'])} now: {corpus_changes(now['corpus'])}"
        )
    for key, what in (("mel", "mel settings"), ("features", "feature extraction version")):
        if then[key] != now[key]:
            differences.append(f"{what} {then[key]} at training, {now[key]} now")
    return "; ".join(difference for difference in differences if difference)


def _origin(made_from: dict | None) -> str:
    return f"features of {made_from['corpus']}" if made_from else "data of no recorded origin (not from wl.features)"
