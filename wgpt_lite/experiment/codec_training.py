"""Training, measuring and exporting the kit's codec (codec.py): ``python -m wgpt_lite codec train|report|export``.

Training reads random one-second crops of the corpora's **training splits** only and
minimises a reconstruction loss: L1 between log-mel spectrograms at four window sizes (log
of magnitude + ``MEL_EPS``, a floor that keeps a gradient for a near-silent output), L1 on
the waveform, and the quantizer's commitment loss. No adversary: it would sharpen the sound
but costs more than the rest together on a CPU. Each step uses the first 1..N_Q codebooks,
drawn at random (EnCodec's bandwidth sampling), so that codebook 0 alone, and every prefix of
the codebooks, decodes to audio.

A run folder holds ``checkpoint.pt`` (model, optimizer, step, RNG states, settings; replaced
atomically every ``checkpoint_every`` steps) and ``metrics.jsonl`` (one line every
``LOG_EVERY`` steps). Training again into the folder resumes from the checkpoint and
continues the same curve (tests/test_codec.py); the lines logged after the checkpoint are
dropped first. ``export`` writes the committed fp16 weights and their card; ``train
--from-weights`` starts a new run folder from such weights, counting their steps on, so that
training can go on in a later session on a new machine.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from wgpt_lite.audio import FRAME_RATE, HOP, N_FFT, N_MELS, SAMPLE_RATE, log_mel, mel_filters, save_audio
from wgpt_lite.codec import WEIGHTS, Codec, CodecConfig, CodecTokenizer, load_codec, save_codec
from wgpt_lite.data.corpora import corpus_fingerprint, load_clip, read_manifest
from wgpt_lite.infra.atomic import writable_folder, write_text
from wgpt_lite.infra.errors import CheckpointError, DataError, TrainingError
from wgpt_lite.infra.files import load_tensors, log_mark, read_json_lines, restore_log, save_tensors, write_json
from wgpt_lite.runs.locks import run_lock
from wgpt_lite.tokenizers import kmeans, nearest_centroid

CORPORA = ("mini-speech", "mini-music")
CROP_SECONDS = 1.0
BATCH = 8
LR = 1e-3  # EnCodec: 3e-4, for a model 5x wider with an adversary; reconstruction losses alone take more
BETAS = (0.5, 0.9)  # EnCodec's
GRAD_CLIP = 10.0  # only against spikes: typical gradient norms early on are 3-5
MEL_SCALES = (256, 512, 1024, 2048)  # window sizes of the spectral loss, hop a quarter of each
MEL_EPS = 1e-4  # added to the mel magnitude before the log (the kit's log-mel floor): silence still gets a gradient
# With no adversary, the waveform L1 is what keeps the phase near the input's: at weight 1 it
# stayed at the L1 of silence (SI-SNR -40 dB after 1,800 steps, a spectrally right but
# phase-random output); at 20 the SI-SNR rose by 30 dB within 100 steps (measured)
WAVE_WEIGHT = 20.0
COMMIT_WEIGHT = 1.0
INIT_CROPS = 32  # crops whose encoder output k-means-initialises the codebooks (2,400 vectors)
KMEANS_ITERS = 25
LOG_EVERY = 10
CHECKPOINT_EVERY = 100
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


class TrainingAudio:
    """The training splits of some corpora, in memory, and seeded random crops of them."""

    def __init__(self, corpora: tuple[str, ...], crop_samples: int):
        self.corpora = corpora
        self.crop_samples = crop_samples
        self.clips = []
        for corpus in corpora:
            clips = [load_clip(corpus, row) for row in read_manifest(corpus, "train")]
            clips = [clip for clip in clips if clip.shape[-1] >= crop_samples]
            if not clips:
                raise DataError(f"corpus {corpus!r} has no training clip of {crop_samples / SAMPLE_RATE:g} s or more")
            self.clips.append(clips)
        self.lengths = [torch.tensor([clip.shape[-1] for clip in clips], dtype=torch.float) for clips in self.clips]

    def crops(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """[batch, crop_samples]: each crop from a corpus drawn evenly, a clip drawn by its length, any offset."""
        out = []
        for _ in range(batch):
            corpus = int(torch.randint(len(self.clips), (1,), generator=generator))
            index = int(torch.multinomial(self.lengths[corpus], 1, generator=generator))
            clip = self.clips[corpus][index]
            start = int(torch.randint(clip.shape[-1] - self.crop_samples + 1, (1,), generator=generator))
            out.append(clip[start : start + self.crop_samples])
        return torch.stack(out)


def mel_loss(wav: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
    """Mean L1 between log-mel magnitudes at ``MEL_SCALES`` window sizes (centred: a loss may look ahead)."""
    total = wav.new_zeros(())
    for n_fft in MEL_SCALES:
        filters = mel_filters(str(wav.device), N_MELS, n_fft)
        window = torch.hann_window(n_fft, device=wav.device)

        def log_mel_magnitude(x, n_fft=n_fft, filters=filters, window=window):
            magnitude = torch.stft(x, n_fft, n_fft // 4, window=window, return_complex=True).abs()
            # mel magnitudes grow as n_fft squared (window sum, filter area): brought to N_FFT's scale,
            # one MEL_EPS is the same floor at every window size
            return torch.log(filters @ magnitude / (n_fft / N_FFT) ** 2 + MEL_EPS)

        total = total + (log_mel_magnitude(wav) - log_mel_magnitude(decoded)).abs().mean()
    return total / len(MEL_SCALES)


def codec_losses(wav: torch.Tensor, decoded: torch.Tensor, commitment: torch.Tensor) -> dict[str, torch.Tensor]:
    mel, wave = mel_loss(wav, decoded), F.l1_loss(decoded, wav)
    return {
        "loss": mel + WAVE_WEIGHT * wave + COMMIT_WEIGHT * commitment,
        "mel": mel,
        "wave": wave,
        "commit": commitment,
    }


@torch.no_grad()
def init_codebooks(
    model: Codec, wav: torch.Tensor, generator: torch.Generator, batch: int, iters: int = KMEANS_ITERS
) -> None:
    """k-means-initialise every codebook on the encoder's output for ``wav`` [crops, samples].

    Codebook k is fitted to what codebooks < k leave over. Its EMA statistics start as
    k-means left them, in uses per training step of ``batch`` crops (count and sum of each
    cluster), so the first update keeps the centroids; a code k-means left empty counts as dead
    and restarts on the first training step.
    """
    residual = model.encoder(wav[:, None]).transpose(1, 2).reshape(-1, model.config.dimension)
    for layer in model.quantizer.vq.layers:
        book = layer._codebook
        centroids = kmeans(residual, model.config.bins, iters, generator)
        assigned = nearest_centroid(residual, centroids)
        counts = torch.bincount(assigned, minlength=model.config.bins).float() * batch / wav.shape[0]
        book.embed.copy_(centroids)
        book.embed_avg.copy_(centroids * counts[:, None])
        book.cluster_size.copy_(counts)
        residual = residual - centroids[assigned]


def usage(codes: torch.Tensor, bins: int) -> tuple[int, float]:
    """(distinct codes used, unigram entropy in bits) of a tensor of codes."""
    counts = torch.bincount(codes.reshape(-1), minlength=bins).double()
    p = counts[counts > 0] / counts.sum()
    return int((counts > 0).sum()), float(-(p * p.log2()).sum())


# ---------------------------------------------------------------------------
# train


def train_codec(
    run_dir: str | os.PathLike,
    steps: int,
    corpora: tuple[str, ...] = CORPORA,
    batch: int = BATCH,
    crop_seconds: float = CROP_SECONDS,
    seed: int = 0,
    config: CodecConfig | None = None,
    from_weights: str | os.PathLike | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    device: str | torch.device = "cpu",
    command: str = "",
    progress: bool = True,
) -> Path:
    """Train (or resume training) the codec in ``run_dir`` up to ``steps`` steps in total; return the checkpoint.

    ``from_weights``: a new run starts from an exported weights file and its step count
    (a fresh optimizer). ``command`` is recorded for the weights' card.
    """
    config = config or CodecConfig()
    if checkpoint_every % LOG_EVERY:
        raise TrainingError(f"checkpoint_every={checkpoint_every} is not a multiple of LOG_EVERY={LOG_EVERY}")
    run_dir = writable_folder(run_dir, "run folder")
    settings = {
        "corpora": list(corpora),
        "split": "train",
        "batch": batch,
        "crop_seconds": crop_seconds,
        "seed": seed,
        "lr": LR,
        "config": asdict(config),
        "losses": {"mel_scales": list(MEL_SCALES), "mel_eps": MEL_EPS, "wave": WAVE_WEIGHT, "commit": COMMIT_WEIGHT},
        "from_weights": None,
    }
    with run_lock(run_dir):
        audio = TrainingAudio(corpora, round(crop_seconds * FRAME_RATE) * HOP)
        generator = torch.Generator().manual_seed(seed)
        state = _start(run_dir, settings, config, from_weights, audio, generator, command, device)
        model, optimizer, step = state["model"], state["optimizer"], state["step"]
        if step >= steps:
            return run_dir / CHECKPOINT
        from tqdm.auto import tqdm  # lazy: tqdm.auto loads IPython when it is installed

        bar = tqdm(total=steps, initial=step, desc="codec", unit="step", disable=not progress, dynamic_ncols=True)
        window, started = [], time.perf_counter()
        model.train()
        while step < steps:
            wav = audio.crops(batch, generator).to(device)
            n_q = 1 + int(torch.randint(config.n_q, (1,), generator=generator))
            decoded, codes, commitment = model(wav, n_q, generator)
            losses = codec_losses(wav, decoded, commitment)
            if not math.isfinite(losses["loss"].item()):
                raise TrainingError(
                    f"codec loss is {float(losses['loss'])} at step {step + 1}; resume from the checkpoint"
                )
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
            optimizer.step()
            step += 1
            window.append(
                {**{k: v.item() for k, v in losses.items()}, "grad_norm": grad_norm.item(), "codes0": codes[0]}
            )
            if step % LOG_EVERY == 0:
                record = _summary(step, window, config.bins, time.perf_counter() - started)
                _append(run_dir / METRICS, record)
                bar.set_postfix(loss=f"{record['loss']:.3f}", used0=record["used0"])
                window, started = [], time.perf_counter()
            if step % checkpoint_every == 0 or step == steps:
                _save(run_dir, model, optimizer, step, generator, state["settings"], state["history"])
            bar.update(1)
        bar.close()
    return run_dir / CHECKPOINT


def _start(run_dir, settings, config, from_weights, audio, generator, command, device) -> dict:
    """A resumed run (same settings, RNG states restored), or a new one: seeded, codebooks k-means-initialised."""
    path = run_dir / CHECKPOINT
    if path.is_file():
        checkpoint = _load(path)
        given = {**settings, "from_weights": checkpoint["settings"]["from_weights"]}
        if checkpoint["settings"] != given:
            differ = [k for k in given if given[k] != checkpoint["settings"].get(k)]
            raise CheckpointError(
                f"{path}: this run was trained with other settings ({', '.join(differ)}); "
                "give the same settings to resume it, or another run folder"
            )
        model = Codec(config).to(device)
        model.load_state_dict(checkpoint["model"])
        optimizer = _optimizer(model)
        optimizer.load_state_dict(checkpoint["optimizer"])
        generator.set_state(checkpoint["rng"]["crops"])
        torch.set_rng_state(checkpoint["rng"]["torch"])
        restore_log(  # the lines logged after the checkpoint are about to be redone
            run_dir / METRICS,
            checkpoint["log"],
            lambda reason: CheckpointError(
                f"{run_dir / METRICS}: not the log of {path}'s step {checkpoint['step']} ({reason}); put back "
                f"the log that goes with it, or delete {run_dir} to start over"
            ),
        )
        history = [*checkpoint["history"], _entry(command, checkpoint["step"], checkpoint["settings"])]
        return {
            "model": model,
            "optimizer": optimizer,
            "step": checkpoint["step"],
            "settings": checkpoint["settings"],
            "history": history,
        }
    (run_dir / METRICS).unlink(missing_ok=True)  # a run that never reached its first checkpoint starts over
    torch.manual_seed(settings["seed"])
    if from_weights:
        model, info = load_codec(from_weights)
        if model.config != config:
            raise CheckpointError(f"{from_weights}: weights of another codec shape ({model.config}); not {config}")
        model = model.to(device)
        step, history = info["steps"], info["made_from"]["history"]
        settings = {**settings, "from_weights": {"path": str(from_weights), "steps": step}}
    else:
        model, step, history = Codec(config).to(device), 0, []
        init_codebooks(model, audio.crops(INIT_CROPS, generator).to(device), generator, settings["batch"])
    history = [*history, _entry(command, step, settings)]
    return {"model": model, "optimizer": _optimizer(model), "step": step, "settings": settings, "history": history}


def _entry(command: str, step: int, settings: dict) -> dict:
    """One line of a codec's history: the command that trained it from ``step`` on, with its losses."""
    return {"command": command, "from_step": step, "losses": settings["losses"]}


def _optimizer(model: Codec) -> torch.optim.Adam:
    return torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS)


def _summary(step: int, window: list[dict], bins: int, seconds: float) -> dict:
    record = {"step": step}
    for key in ("loss", "mel", "wave", "commit", "grad_norm"):
        record[key] = sum(w[key] for w in window) / len(window)
    record["used0"], record["entropy0"] = usage(torch.cat([w["codes0"].reshape(-1) for w in window]), bins)
    record["s_per_step"] = seconds / len(window)
    return record


def _append(path: Path, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def _save(run_dir: Path, model, optimizer, step, generator, settings, history) -> None:
    state = {
        "kind": "wgpt_lite codec run",
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "rng": {"torch": torch.get_rng_state(), "crops": generator.get_state()},
        "settings": settings,
        "history": history,
        "log": log_mark(run_dir / METRICS),  # the lines a resume keeps
    }
    save_tensors(run_dir / CHECKPOINT, state)


def _load(path: Path) -> dict:
    def refuse(reason: str) -> CheckpointError:
        return CheckpointError(f"{path}: not a codec checkpoint the kit wrote ({reason}); delete it to start over")

    checkpoint = load_tensors(path, refuse)
    if not isinstance(checkpoint, dict) or checkpoint.get("kind") != "wgpt_lite codec run":
        raise CheckpointError(f"{path}: not a codec run's checkpoint; give `codec train` a folder of its own")
    return checkpoint


def read_codec_metrics(run_dir: str | os.PathLike) -> list[dict]:
    path = Path(run_dir) / METRICS
    return read_json_lines(path, "the codec run's log", f"delete {run_dir} to start over") if path.is_file() else []


# ---------------------------------------------------------------------------
# report


def log_mel_l1(reference: torch.Tensor, mel: torch.Tensor) -> float:
    """Mean |log-mel difference| between the audio ``reference`` and a log-mel [frames, 64] (``wl.log_mel``'s units)."""
    return (log_mel(reference) - mel).abs().mean().item()


def audio_scores(reference: torch.Tensor, decoded: torch.Tensor) -> dict:
    """Log-mel L1 and SI-SNR (dB) of ``decoded`` audio against the ``reference`` it was encoded from."""
    return {"log_mel_l1": log_mel_l1(reference, log_mel(decoded)), "si_snr_db": si_snr(reference, decoded)}


def silence_log_mel_l1(reference: torch.Tensor) -> float:
    """The log-mel L1 of no output at all: the scale the other L1s are read against."""
    return log_mel_l1(reference, log_mel(torch.zeros_like(reference)))


def mean_scores(scores: list[dict]) -> dict:
    """The mean of each score over clips; None stays None (not applicable)."""
    return {key: None if scores[0][key] is None else sum(s[key] for s in scores) / len(scores) for key in scores[0]}


def si_snr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """Scale-invariant signal-to-noise ratio in dB: how much of ``estimate`` is ``reference``, at any gain."""
    reference, estimate = reference - reference.mean(), estimate - estimate.mean()
    target = (estimate @ reference) / (reference @ reference).clamp(min=1e-12) * reference
    noise = estimate - target
    return float(10 * torch.log10((target @ target).clamp(min=1e-12) / (noise @ noise).clamp(min=1e-12)))


def codec_report(
    weights: str | os.PathLike = WEIGHTS,
    corpora: tuple[str, ...] = CORPORA,
    split: str = "test",
    out: str | os.PathLike | None = None,
    listen: int = 3,
) -> dict:
    """Measure a codec's weights on held-out clips; with ``out``, write report.json, report.md and audio there.

    Per corpus: log-mel L1 (the kit's units, ``wl.log_mel``) and SI-SNR of the decoded audio,
    with every codebook and with codebook 0 alone (and of silence, for scale); per codebook:
    the entries used and the unigram entropy; codebook 0's repeat rate; the bitrate; encoding
    speed as a multiple of real time. ``listen`` clips per corpus are written as WAV: the input,
    all codebooks, codebook 0 alone.
    """
    tok = CodecTokenizer(weights)
    config = tok.model.config
    out = writable_folder(out, "report folder") if out is not None else None
    report = {
        "weights": str(weights),
        "weights_sha256": tok.weights_sha256,
        "steps": tok.info["steps"],
        "split": split,
        "bitrate_bps": {"all": config.bitrate, "codebook0": config.bitrate // config.n_q},
        "threads": torch.get_num_threads(),
        "corpora": {},
    }
    all_codes, audio_seconds, wall, cpu = [], 0.0, 0.0, 0.0
    for corpus in corpora:
        scores, silence, corpus_codes = {"all": [], "codebook0": []}, [], []
        for number, row in enumerate(read_manifest(corpus, split)):
            wav = load_clip(corpus, row)
            started, started_cpu = time.perf_counter(), time.process_time()
            codes = tok.encode_codes(wav)
            wall, cpu = wall + time.perf_counter() - started, cpu + time.process_time() - started_cpu
            audio_seconds += wav.shape[-1] / SAMPLE_RATE
            corpus_codes.append(codes)
            decoded = {"all": tok.decode_codes(codes), "codebook0": tok.decode_codes(codes[:1])}
            for key, audio in decoded.items():
                scores[key].append(audio_scores(wav, audio))
            silence.append(silence_log_mel_l1(wav))
            if out is not None and number < listen:
                (out / corpus).mkdir(exist_ok=True)
                for key, audio in (("input", wav), ("all", decoded["all"]), ("codebook0", decoded["codebook0"])):
                    save_audio(out / corpus / f"{row['id']}-{key}.wav", audio)
        codes = torch.cat(corpus_codes, dim=-1)
        all_codes.append(codes)
        report["corpora"][corpus] = {
            "clips": len(corpus_codes),
            "seconds": codes.shape[-1] / FRAME_RATE,
            "all": mean_scores(scores["all"]),
            "codebook0": {**mean_scores(scores["codebook0"]), **codebook_usage(codes[0], config.bins)},
            "silence_log_mel_l1": sum(silence) / len(silence),
        }
    codes = torch.cat(all_codes, dim=-1)
    report["codebooks"] = [codebook_usage(row, config.bins) for row in codes]
    # CPU time as well as wall time: on a shared machine, the wall clock measures the neighbours too
    report["encode_x_realtime"] = {"wall": audio_seconds / wall, "cpu": audio_seconds / cpu}
    if out is not None:
        write_json(out / "report.json", report, indent=1)
        write_text(out / "report.md", report_markdown(report))
    return report


def codebook_usage(codes: torch.Tensor, bins: int) -> dict:
    """Entries used (of ``bins``), unigram entropy in bits a frame, and the fraction of frames repeating the previous
    one, of one codebook's codes [frames]."""
    used, entropy = usage(codes, bins)
    repeats = (codes[1:] == codes[:-1]).float().mean().item() if codes.numel() > 1 else 0.0
    return {"used": used, "bins": bins, "entropy_bits": entropy, "repeat_rate": repeats}


def report_markdown(report: dict) -> str:
    """The report as a page: reconstruction per corpus, then usage per codebook."""
    lines = [
        f"Codec weights `{Path(report['weights']).name}` (sha256 `{report['weights_sha256'][:16]}…`, "
        f"{report['steps']} training steps), measured on the {report['split']} splits.",
        "",
        "| corpus | clips | seconds | log-mel L1, all codebooks | SI-SNR dB, all | log-mel L1, codebook 0 | "
        "SI-SNR dB, codebook 0 | log-mel L1, silence | codebook 0 used | codebook 0 entropy (bits) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for corpus, row in report["corpora"].items():
        lines.append(
            f"| {corpus} | {row['clips']} | {row['seconds']:.0f} | {row['all']['log_mel_l1']:.3f} | "
            f"{row['all']['si_snr_db']:.1f} | {row['codebook0']['log_mel_l1']:.3f} | "
            f"{row['codebook0']['si_snr_db']:.1f} | {row['silence_log_mel_l1']:.3f} | "
            f"{row['codebook0']['used']}/{row['codebook0']['bins']} | {row['codebook0']['entropy_bits']:.2f} |"
        )
    lines += ["", "| codebook | used | unigram entropy (bits) | repeat rate |", "|---|---|---|---|"]
    for number, row in enumerate(report["codebooks"]):
        lines.append(
            f"| {number} | {row['used']}/{row['bins']} | {row['entropy_bits']:.2f} | {row['repeat_rate']:.3f} |"
        )
    bitrate, speed = report["bitrate_bps"], report["encode_x_realtime"]
    lines += [
        "",
        f"Bitrate: {bitrate['all'] / 1000:g} kbps with every codebook, {bitrate['codebook0']} bps codebook 0 alone. "
        f"Encoding: {speed['cpu']:.0f}x real time in CPU time ({speed['wall']:.0f}x by the wall clock) on "
        f"{report['threads']} CPU thread(s).",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# export


def export_codec(
    run_dir: str | os.PathLike,
    out: str | os.PathLike = WEIGHTS,
    report_dir: str | os.PathLike = "codec-report",
    split: str = "test",
    note: str = "",
) -> Path:
    """Write a run's weights as ``out`` (fp16), measure them on ``split`` (``codec_report`` into ``report_dir``)
    and write their card beside them (``out`` with ``.md``, with ``note`` as its status); return the card's path."""
    checkpoint = _load(Path(run_dir) / CHECKPOINT)
    settings = checkpoint["settings"]
    model = Codec(CodecConfig(**{**settings["config"], "ratios": tuple(settings["config"]["ratios"])}))
    model.load_state_dict(checkpoint["model"])
    corpora = tuple(settings["corpora"])
    made_from = {
        **settings,
        "history": checkpoint["history"],
        "corpus_sha256": {corpus: corpus_fingerprint(corpus) for corpus in corpora},
    }
    save_codec(model, out, checkpoint["step"], made_from)
    report = codec_report(out, corpora, split, out=report_dir)
    card = Path(out).with_suffix(".md")
    write_text(card, codec_card(Path(out), model, made_from, report, note))
    return card


def codec_card(path: Path, model: Codec, made_from: dict, report: dict, note: str = "") -> str:
    """The card of a weights file: what it is, its licence, what made it, what it measures."""
    config = model.config
    parameters = sum(p.numel() for p in model.parameters())
    commands = "\n".join(
        f"    {h['command'] or '(no command recorded)'}    # from step {h['from_step']}, "
        f"waveform L1 weight {h['losses']['wave']:g}"
        for h in made_from["history"]
    )
    losses = made_from["losses"]
    status = f"- **Status**: {note}\n" if note else ""
    corpora = ", ".join(f"`{c}` (content sha256 `{h[:16]}…`)" for c, h in made_from["corpus_sha256"].items())
    return f"""# `{path.name}`: the kit's own codec

- **File**: `wgpt_lite/weights/{path.name}`, {path.stat().st_size / 1e6:.1f} MB (fp16), sha256
  `{report["weights_sha256"]}`. `wl.get_tokenizer("codec")` loads it; its `settings()` name it by this hash.
- **Licence**: the kit's (MIT), like its code. Made by the kit from its own offline corpora only, with no
  third-party weights.
- **Model** (`wgpt_lite/codec.py`): causal SEANet encoder and decoder from the `encodec` package (n_filters
  {config.n_filters}, ratios {list(config.ratios)}, {config.lstm} LSTM layer(s), zero padding), a residual vector
  quantizer of {config.n_q} codebooks x {config.bins} entries of width {config.dimension}; {parameters / 1e6:.2f}M
  parameters. 24 kHz, 75 frames a second, aligned 1:1 with `wl.log_mel`. {config.bitrate / 1000:g} kbps with every
  codebook; codebook 0 alone, the `codec` tokens, {config.bitrate // config.n_q} bps.
- **Trained on** the `{made_from["split"]}` split only of {corpora}: random {made_from["crop_seconds"]:g} s crops, batch
  {made_from["batch"]}, seed {made_from["seed"]}, Adam lr {made_from["lr"]:g} betas {list(BETAS)}; losses: log-mel L1 at
  windows {losses["mel_scales"]} + {losses["wave"]:g} x waveform L1 + {losses["commit"]:g} x commitment (each command's
  weights below); 1..{config.n_q} codebooks
  drawn a step; EMA codebooks (decay 0.99) k-means-initialised, dead codes restarted; no adversary.
{status}- **Steps**: {report["steps"]} in total, made by (`experiment/codec_training.py`):

{commands}

  Training goes on from these weights in a new run folder, counting on from step {report["steps"]}:

    python -m wgpt_lite codec train --run RUN --from-weights wgpt_lite/weights/{path.name} --steps N
    python -m wgpt_lite codec export --run RUN

## Measured (`python -m wgpt_lite codec report`)

{report_markdown(report)}"""
