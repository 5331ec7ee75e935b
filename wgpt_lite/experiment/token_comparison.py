"""The kit's tokenizers side by side on the same held-out clips: ``python -m wgpt_lite tokenizers compare``.

Rows: ``codec`` (the kit's committed weights), ``melvq`` (fitted on the training split, as
``wl.corpus_tokenizer`` fits it), a random-init EnCodec (``EncodecTokenizer.untrained``, the
stand-in of the offline tests, seeded and calibrated on the start of the training split),
the real EnCodec when its weights load (else a row saying why not), and EnCodec as its paper
reports it. Columns, in the units of ``codec report`` (experiment/codec_training.py, whose
helpers measure them here too): log-mel L1 and SI-SNR of what the tokens decode to, with
every codebook and with codebook 0 alone; the bitrate; codebook 0's entries used, unigram
entropy in bits a frame and repeat rate (frames whose token equals the previous one).

melvq decodes to centroid log-mel frames, not audio: its log-mel L1 is measured, its SI-SNR is
n/a. Its tokens are quantised from the very mel that L1 is measured on, so its L1 is the
quantisation error of the features the hybrid sees, not a codec's reconstruction error.

    >>> report = compare_tokenizers(["sample-speech"], "validation", ["codec", "melvq"], max_clips=1, progress=False)
    >>> rows = {row["tokenizer"]: row for row in report["rows"]}
    >>> rows["melvq"]["all"]["si_snr_db"], rows["codec"]["bitrate_bps"]
    (None, {'all': 6000, 'codebook0': 750})
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from wgpt_lite.audio import FRAME_RATE, SAMPLE_RATE
from wgpt_lite.codec import CodecTokenizer
from wgpt_lite.data.corpora import corpus_fingerprint, load_clip, read_manifest
from wgpt_lite.data.feature_cache import corpus_tokenizer
from wgpt_lite.experiment.codec_training import (
    audio_scores,
    codebook_usage,
    log_mel_l1,
    mean_scores,
    silence_log_mel_l1,
)
from wgpt_lite.infra.atomic import writable_folder, write_text
from wgpt_lite.infra.code_version import code_version, describe_code
from wgpt_lite.infra.errors import TokenizerError
from wgpt_lite.infra.files import write_json
from wgpt_lite.tokenizers import ENCODEC_BANDWIDTH, EncodecTokenizer, describe_tokenizer

CORPORA = ("mini-speech", "mini-music")
# "encodec" stands for three rows: the untrained stand-in, the real weights (measured when they load) and the paper
TOKENIZERS = ("codec", "melvq", "encodec")
# The random-init EnCodec's codebooks are k-means-initialised on this much of the training split
# (750 encoder frames): enough for its 1024 codes to span this corpus's encoder outputs at all.
CALIBRATION_SECONDS = 10.0
STANDIN_SEED = 0
# The paper's results per bandwidth are listeners' MUSHRA scores in its Table 1: pointed to, no figure copied,
# since none could be read from the paper itself here; they are not in the kit's units nor on its clips.
ENCODEC_PAPER = (
    "Défossez et al. 2022, High Fidelity Neural Audio Compression (arXiv:2210.13438), Table 1: MUSHRA at 1.5, 3, 6 "
    "and 12 kbps per audio category, on its own test sets; see it there"
)
SCORE_NAMES = {"log_mel_l1": "log-mel L1", "si_snr_db": "SI-SNR"}
NOT_AUDIO = "decodes to centroid log-mel frames, not audio"
# The command's default limit per corpus: the untrained EnCodec, full size, runs near 2x real time on one CPU
# thread, so a minute of each corpus keeps `tokenizers compare` to a few minutes
QUICK_SECONDS = 60.0
REPORT_NAME = "comparison"  # comparison.json and comparison.md in the output folder


def compare_tokenizers(
    corpora: Sequence[str] = CORPORA,
    split: str = "test",
    tokenizers: Sequence[str] = TOKENIZERS,
    max_clips: int | None = None,
    max_seconds: float | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict:
    """Measure every tokenizer on the same ``split`` clips of each corpus; with ``out``, write comparison.json/.md.

    ``tokenizers``: some of ``TOKENIZERS``. ``max_clips`` and ``max_seconds`` (per corpus) keep
    the first clips in manifest order, at least one. Returns ``{"rows": [...], "corpora": {...},
    "made_from": {...}}``, one row per tokenizer and corpus, then the paper's.
    """
    if not tokenizers or any(name not in TOKENIZERS for name in tokenizers):
        raise TokenizerError(f"tokenizers {list(tokenizers)}: give some of {', '.join(TOKENIZERS)}")
    out = writable_folder(out, "comparison folder") if out is not None else None
    from tqdm.auto import tqdm  # lazy: tqdm.auto loads IPython when it is installed

    codec = CodecTokenizer() if "codec" in tokenizers else None
    encodec = real_encodec() if "encodec" in tokenizers else None
    report = {
        "split": split,
        "limits": {"max_clips": max_clips, "max_seconds": max_seconds},
        "corpora": {},
        "rows": [],
        "made_from": {"code": code_version(), "corpus_sha256": {}, "threads": torch.get_num_threads()},
    }
    for corpus in corpora:
        tallies = corpus_tallies(corpus, tokenizers, codec, encodec)
        clips, silence = held_out(corpus, split, max_clips, max_seconds), []
        for row in tqdm(clips, desc=corpus, unit="clip", disable=not progress, dynamic_ncols=True):
            wav = load_clip(corpus, row)
            for tally in tallies:
                tally.add(wav)
            silence.append(silence_log_mel_l1(wav))
        report["corpora"][corpus] = {
            "clips": len(clips),
            "seconds": sum(tallies[0].frames) / FRAME_RATE,
            "silence_log_mel_l1": sum(silence) / len(silence),
        }
        report["made_from"]["corpus_sha256"][corpus] = corpus_fingerprint(corpus)
        report["rows"] += [tally.row(corpus) for tally in tallies]
        if isinstance(encodec, str):
            report["rows"].append(unmeasured_row(corpus, "encodec", f"not measured here: {encodec}"))
    if "encodec" in tokenizers:
        report["rows"].append(unmeasured_row("the paper's test sets", "encodec (paper)", f"cited: {ENCODEC_PAPER}"))
    if out is not None:
        write_json(out / f"{REPORT_NAME}.json", report, indent=1)
        write_text(out / f"{REPORT_NAME}.md", comparison_markdown(report))
    return report


def corpus_tallies(corpus: str, tokenizers: Sequence[str], codec, encodec) -> list[Tally]:
    """An empty tally for each tokenizer measured on ``corpus``; ``encodec`` is the real one or why it did not load."""
    tallies = []
    if "codec" in tokenizers:
        tallies.append(Tally("codec", codec))
    if "melvq" in tokenizers:
        tallies.append(Tally("melvq", corpus_tokenizer(corpus, "melvq")))
    if "encodec" in tokenizers:
        tallies.append(Tally("encodec (untrained)", untrained_encodec(corpus)))
        if not isinstance(encodec, str):
            tallies.append(Tally("encodec", encodec))
    return tallies


def held_out(corpus: str, split: str, max_clips: int | None, max_seconds: float | None) -> list[dict]:
    """The first manifest rows of ``split``: at most ``max_clips``, and no more once ``max_seconds`` are reached."""
    rows, seconds = [], 0.0
    for row in read_manifest(corpus, split)[:max_clips]:
        if rows and max_seconds is not None and seconds >= max_seconds:
            break
        rows.append(row)
        seconds += row["seconds"]
    return rows


def real_encodec() -> EncodecTokenizer | str:
    """EnCodec with its published weights, or why they do not load here (the first sentence of the error)."""
    try:
        return EncodecTokenizer()
    except TokenizerError as err:
        return str(err).split(". ")[0]


def untrained_encodec(corpus: str) -> EncodecTokenizer:
    """The offline tests' random-init EnCodec, seeded; calibrated on the first ``CALIBRATION_SECONDS`` of train."""
    audio, seconds = [], 0.0
    for row in read_manifest(corpus, "train"):
        if seconds >= CALIBRATION_SECONDS:
            break
        audio.append(load_clip(corpus, row))
        seconds += audio[-1].shape[-1] / SAMPLE_RATE
    calibration = torch.cat(audio)[: round(CALIBRATION_SECONDS * SAMPLE_RATE)]
    return EncodecTokenizer.untrained(calibration, seed=STANDIN_SEED, device="cpu")


def token_codes(tokenizer, wav: torch.Tensor) -> torch.Tensor:
    """Every codebook's codes [codebooks, frames], codebook 0 first (one codebook for a tokenizer of one)."""
    return tokenizer.encode_codes(wav) if hasattr(tokenizer, "encode_codes") else tokenizer.encode(wav)[None]


def reconstruction(tokenizer, wav: torch.Tensor, codes: torch.Tensor) -> dict:
    """Log-mel L1 and SI-SNR (dB) of what ``codes`` decode to; SI-SNR is None unless they decode to audio."""
    decoded = tokenizer.decode_codes(codes) if hasattr(tokenizer, "decode_codes") else tokenizer.decode(codes[0])
    if tokenizer.decodes_to == "audio":
        return audio_scores(wav, decoded)
    if tokenizer.decodes_to == "log-mel":
        return {"log_mel_l1": log_mel_l1(wav, decoded), "si_snr_db": None}
    raise TokenizerError(f"tokenizer {tokenizer.name!r} decodes to {tokenizer.decodes_to!r}: neither audio nor log-mel")


class Tally:
    """One tokenizer's scores and codebook-0 codes over the clips of one corpus."""

    def __init__(self, label: str, tokenizer):
        self.label, self.tokenizer = label, tokenizer
        self.scores = {"all": [], "codebook0": []}
        self.codes0, self.frames, self.codebooks = [], [], 0

    def add(self, wav: torch.Tensor) -> None:
        codes = token_codes(self.tokenizer, wav)
        self.codebooks = codes.shape[0]
        self.codes0.append(codes[0])
        self.frames.append(codes.shape[-1])
        self.scores["all"].append(reconstruction(self.tokenizer, wav, codes))
        self.scores["codebook0"].append(reconstruction(self.tokenizer, wav, codes[:1]))

    def row(self, corpus: str) -> dict:
        tok = self.tokenizer
        bits = (tok.vocab_size - 1).bit_length() * tok.frame_rate  # one codebook's bits a second
        audio = tok.decodes_to == "audio"
        return {
            "corpus": corpus,
            "tokenizer": self.label,
            "status": "measured",
            "identity": tok.settings(),
            "bitrate_bps": {"all": self.codebooks * bits, "codebook0": bits},
            "all": mean_scores(self.scores["all"]),
            "codebook0": mean_scores(self.scores["codebook0"]),
            "codebook0_usage": codebook_usage(torch.cat(self.codes0), tok.vocab_size),
            "not_applicable": {} if audio else {"si_snr_db": NOT_AUDIO},
        }


def unmeasured_row(corpus: str, tokenizer: str, status: str) -> dict:
    """A row with no measurement: EnCodec's real weights where they do not load, or a cited paper."""
    bits = FRAME_RATE * 10  # EnCodec: codebooks of 1024 entries, 75 frames a second
    scores = {"log_mel_l1": None, "si_snr_db": None}
    return {
        "corpus": corpus,
        "tokenizer": tokenizer,
        "status": status,
        "identity": None,
        "bitrate_bps": {"all": round(ENCODEC_BANDWIDTH * 1000), "codebook0": bits},
        "all": scores,
        "codebook0": dict(scores),
        "codebook0_usage": None,
        "not_applicable": {},
    }


def comparison_markdown(report: dict) -> str:
    """The comparison as a page: one table, the notes its cells point to, and what made it."""
    lines = [
        f"Tokenizers on the {report['split']} splits (the same clips for every row; "
        + ", ".join(f"{c}: {v['seconds']:.0f} s in {v['clips']} clip(s)" for c, v in report["corpora"].items())
        + ").",
        "",
        "| corpus | tokens | bitrate, all / codebook 0 | log-mel L1, all | SI-SNR dB, all | log-mel L1, codebook 0 | "
        "SI-SNR dB, codebook 0 | codebook 0 used | entropy (bits/frame) | repeat rate |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for row in report["rows"]:
        if row["status"] != "measured":
            notes.append(f"- `{row['tokenizer']}`: {row['status']}.")
            cells = ["—"] * 7
        else:
            usage = row["codebook0_usage"]
            cells = [
                *(score(row[key], name) for key in ("all", "codebook0") for name in ("log_mel_l1", "si_snr_db")),
                f"{usage['used']}/{usage['bins']}",
                f"{usage['entropy_bits']:.2f}",
                f"{usage['repeat_rate']:.3f}",
            ]
            notes += [
                f"- `{row['tokenizer']}`: {SCORE_NAMES[key]} n/a, it {why}."
                for key, why in row["not_applicable"].items()
            ]
        bitrate = f"{row['bitrate_bps']['all'] / 1000:g} / {row['bitrate_bps']['codebook0'] / 1000:g} kbps"
        lines.append(f"| {row['corpus']} | {row['tokenizer']} | {bitrate} | " + " | ".join(cells) + " |")
    made_from = report["made_from"]
    silence = ", ".join(f"{c} {v['silence_log_mel_l1']:.3f}" for c, v in report["corpora"].items())
    identities = [
        f"`{row['tokenizer']}` on {row['corpus']}: {describe_tokenizer(row['identity'])}" for row in measured(report)
    ]
    lines += [
        "",
        *dict.fromkeys(notes),  # one note per reason, in table order
        f"- Log-mel L1 of silence (no output at all), for scale: {silence}.",
        "",
        f"Made by wgpt_lite {describe_code(made_from['code'])} on {made_from['threads']} CPU thread(s); "
        f"tokens: {', '.join(identities)}.",
        "",
    ]
    return "\n".join(lines)


def score(scores: dict, name: str) -> str:
    value = scores[name]
    if value is None:
        return "n/a"
    return f"{value:.3f}" if name == "log_mel_l1" else f"{value:.1f}"


def measured(report: dict) -> list[dict]:
    return [row for row in report["rows"] if row["status"] == "measured"]
