"""Command line: ``python -m wgpt_lite <command> --help`` explains each command.

Every argument is parsed here; each command calls one function of the library with plain
arguments and prints its result. Every mistake is one line on stderr, not a traceback: a
malformed argument exits with 2, a ``WgptError`` with 1. The arguments, the device and the
output folder are checked, in that order, before any data loads and before any folder is
created; so are the folders the environment chooses (``WGPT_HOME``, ``WGPT_RESULTS``), whose
line names the variable to set.

    env        what this machine gives the kit            environment.environment_report
    setup      system packages and the kit itself         install.setup
    demo       the front end of one clip, to a PNG        demo.front_end_demo
    data       build, list and extract corpora            corpora.build_corpus, feature_cache.feature_worker
    train      one model on one corpus                    reproduce.train_model
    evaluate   score a checkpoint, or several on --audio  reproduce.score_checkpoint, own_audio.score_folder
    reproduce  the paper's experiment                     reproduce.reproduce
    sweep      ablations of the hybrid                    sweep.sweep
    probe      how much one mel frame tells               probe.mel_frame_probe
    codec      train, measure, export the kit's codec     codec_training.train_codec, codec_report, export_codec
    tokenizers compare the tokenizers on held-out clips   token_comparison.compare_tokenizers
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
from pathlib import Path

from wgpt_lite.audio import FRAME_RATE, HOP, SAMPLE_RATE, crop_to_frames, load_audio, log_mel, save_audio
from wgpt_lite.data.corpora import (
    CORPORA,
    KINDS,
    build_corpus,
    build_folder_corpus,
    check_folder_corpus_name,
    corpus_dir,
    corpus_names,
    corpus_spec,
    corpus_summary,
    is_built,
    report_skipped,
)
from wgpt_lite.data.feature_cache import feature_worker
from wgpt_lite.display.demo import front_end_demo
from wgpt_lite.display.environment import environment_report, format_report
from wgpt_lite.display.plots import plot_continuation
from wgpt_lite.experiment import codec_training, token_comparison
from wgpt_lite.experiment.generation_quality import continue_clip
from wgpt_lite.experiment.own_audio import score_folder
from wgpt_lite.experiment.probe import PROBE_STEPS, mel_frame_probe, probe_table
from wgpt_lite.experiment.reproduce import (
    CorpusData,
    reproduce,
    results_dir,
    score_checkpoint,
    scores_line,
    tokenizer_name,
    train_model,
)
from wgpt_lite.experiment.sweep import SETTINGS, parse_variations, sweep
from wgpt_lite.infra import distributed, install
from wgpt_lite.infra.atomic import atomic_path, check_folder_can_be_written, writable_folder
from wgpt_lite.infra.device import pick_device
from wgpt_lite.infra.errors import CheckpointError, DataError, ModelError, TokenizerError, WgptError
from wgpt_lite.infra.files import write_json
from wgpt_lite.infra.processes import sigterm_as_ctrl_c
from wgpt_lite.infra.settings import home_dir, results_root
from wgpt_lite.presets import MODELS, PRESETS, default_preset, get_preset, preset_corpora, train_config
from wgpt_lite.runs.checkpoint import load_with_tokenizer
from wgpt_lite.tokenizers import TOKENIZERS

DEVICE_HELP = "cuda (or cuda:N), mps or cpu (default: the best available; one this machine lacks is refused)"
CORPUS_HELP = f"corpus: {', '.join(CORPORA)}, or a folder corpus made by `data build folder`"


class OneLineParser(argparse.ArgumentParser):
    """argparse, with each mistake told in one line like the kit's own errors (the usage is one --help away).

    Subcommands' parsers are of this class too: ``add_subparsers`` makes them of their parent's class.
    """

    def error(self, message: str):
        self.exit(2, f"error: {message} ({self.prog} --help explains the arguments)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m wgpt_lite",
        description="Whisper-GPT lite: causal log-mel + coarse audio tokens, three small language models.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (
        _add_env,
        _add_setup,
        _add_demo,
        _add_data,
        _add_train,
        _add_evaluate,
        _add_reproduce,
        _add_sweep,
        _add_probe,
        _add_sample,
        _add_codec,
        _add_tokenizers,
    ):
        add(commands)
    return parser


def _module_doc(name: str) -> str:
    """A module's docstring, for a command's --help (``wl.reproduce`` is the function, not the module)."""
    return importlib.import_module(f"wgpt_lite.{name}").__doc__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with sigterm_as_ctrl_c():  # a SIGTERM unwinds like Ctrl-C: temporary folders and worker pools are cleaned up
            return args.func(args) or 0
    except WgptError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------
# env, setup, demo


def _add_env(commands) -> None:
    parser = commands.add_parser(
        "env",
        help="show the device, precision, preset and tokenizer the kit will use",
        description="What this machine gives the kit, and what the kit will choose.",
    )
    parser.set_defaults(func=lambda args: print(format_report(environment_report())))


def _add_setup(commands) -> None:
    # `python -m wgpt_lite setup` never gets here (wgpt_lite/__init__.py hands it to install.main before the kit's
    # imports); this is the same command for `wgpt-lite setup` and for the list of commands in --help.
    parser = commands.add_parser("setup", help=install.SETUP_HELP, description=install.SETUP_DESCRIPTION)
    install.add_setup_arguments(parser)
    parser.set_defaults(func=lambda args: install.setup(pip=args.pip, dry_run=args.dry_run))


def _add_demo(commands) -> None:
    parser = commands.add_parser(
        "demo",
        help="draw the front end (waveform, causal framing, log-mel, tokens) of one clip to a PNG",
        description=_module_doc("display.demo"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--audio",
        default=None,
        help="audio file to show (any format soundfile reads); default: the first committed speech sample",
    )
    parser.add_argument(
        "--tokenizer",
        default="auto",
        choices=TOKENIZERS,
        help="'encodec' needs its weights; 'auto' uses them when present, else the kit's 'codec' (default: auto)",
    )
    parser.add_argument(
        "--out", default="results/frontend_demo.png", help="where to write the figure (default: %(default)s)"
    )
    parser.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a file, not a window: works on a headless machine
    print(front_end_demo(args.audio, args.tokenizer, args.out))


# ---------------------------------------------------------------------------
# data build | list | features | sample


def _add_data(commands) -> None:
    data = commands.add_parser(
        "data",
        help="build and inspect corpora and feature caches",
        description="Build and inspect corpora and feature caches.",
    )
    actions = data.add_subparsers(dest="data_command", metavar="ACTION")
    data.set_defaults(func=lambda args: data.print_help() or 2)
    for add in (_add_build, _add_fetch, _add_list, _add_features, _add_data_sample):
        add(actions)


def _add_build(actions) -> None:
    parser = actions.add_parser(
        "build",
        help="build a corpus under $WGPT_HOME/corpora, or make one of a folder of your audio",
        description="Build a corpus under $WGPT_HOME/corpora (atomic; a no-op when already built, unless --force). "
        "`data build folder --source DIR --name NAME` makes corpus NAME of the audio files in DIR.",
    )
    parser.add_argument(
        "name",
        choices=[*(n for n in CORPORA if not n.startswith("sample-")), "folder"],
        help="corpus to build; folder: your own audio (--source DIR --name NAME)",
    )
    parser.add_argument(
        "--minutes",
        type=_positive,
        default=None,
        help="training minutes (default 64 for mini corpora, 600 for real ones); validation and "
        "test get minutes/8 each",
    )
    parser.add_argument("--jobs", type=_count, default=None, help="worker processes (default: all CPU cores)")
    parser.add_argument("--force", action="store_true", help="rebuild even when a complete corpus exists")
    parser.add_argument(
        "--source",
        default=None,
        help="librispeech: hub dataset name (default openslr/librispeech_asr) or a local copy: OpenSLR's "
        "LibriSpeech/ folder, the hub's parquet files or a save_to_disk folder; maestro: the MAESTRO v3 folder "
        "(default $WGPT_MAESTRO_DIR, else the folder `data fetch maestro` filled); folder: the folder of your audio "
        "files (searched recursively; train/, validation/, test/ sub-folders are used as the splits)",
    )
    parser.add_argument("--config", default=None, help="librispeech: subset, clean (default) or other")
    parser.add_argument(
        "--name", dest="folder_name", metavar="NAME", default=None, help="folder: the name of the corpus it becomes"
    )
    parser.add_argument(
        "--kind",
        choices=KINDS,
        default=None,
        help="folder: speech (default) or music, the paper table its results stand beside",
    )
    parser.set_defaults(func=_cmd_build)


def _add_fetch(actions) -> None:
    parser = actions.add_parser(
        "fetch",
        help="download the MAESTRO pieces a build takes (not the 101 GB zip)",
        description="Download the MAESTRO v3 pieces (WAV + MIDI) that `data build maestro --minutes 60*H` takes, "
        "read out of the published zip with HTTP range requests. Run it again to resume.",
    )
    parser.add_argument("name", choices=["maestro"], help="corpus to fetch")
    parser.add_argument(
        "--hours",
        type=_positive,
        required=True,
        help="hours of training audio (validation and test get hours/8 each)",
    )
    parser.add_argument(
        "--dest",
        default=None,
        help="folder to fill (default $WGPT_DOWNLOADS/maestro-v3.0.0, where data build maestro looks)",
    )
    parser.add_argument("--timeout", type=_positive, default=60.0, help="seconds one request may wait for the server")
    parser.set_defaults(func=_cmd_fetch)


def _add_list(actions) -> None:
    parser = actions.add_parser(
        "list",
        help="list known corpora and which are built",
        description="List known corpora, where they live, and their splits when built.",
    )
    parser.set_defaults(func=_cmd_list)


def _add_features(actions) -> None:
    parser = actions.add_parser(
        "features",
        help="extract (or reuse) the feature cache of a corpus split",
        description="Extract tokens + log-mel for a corpus split into the feature cache (a cache hit when nothing "
        "changed). It fills in shards, so a killed extraction resumes where it stopped. In parallel: "
        "`torchrun --nproc_per_node N -m wgpt_lite data features ...` (one process per GPU), or N independent "
        "processes, each with --workers N --worker I; the last to finish writes the cache.",
    )
    parser.add_argument("name", type=_corpus, help=CORPUS_HELP)
    parser.add_argument("--split", default="train", help="split (default train)")
    parser.add_argument(
        "--tokenizer",
        default="auto",
        choices=TOKENIZERS,
        help="tokenizer (default auto: encodec when its weights load, else the kit's codec)",
    )
    parser.add_argument(
        "--workers", type=_count, default=1, help="independent processes sharing the extraction (default 1)"
    )
    parser.add_argument(
        "--worker", type=int, default=0, help="which of the --workers this process is, 0 to N-1 (default 0)"
    )
    parser.set_defaults(func=_cmd_features)


def _add_data_sample(actions) -> None:
    parser = actions.add_parser(
        "sample",
        help="regenerate the committed sample in data/sample",
        description="Regenerate data/sample/{speech,music} from the TTS voices and FluidSynth.",
    )
    parser.set_defaults(func=_cmd_sample)


def _cmd_build(args) -> None:
    started = time.perf_counter()
    if args.name != "folder":
        if args.folder_name or args.kind:
            raise DataError(f"--name and --kind are for data build folder, not for {args.name}; leave them out")
        _check_home()
        was_built = is_built(args.name)
        path = build_corpus(args.name, args.minutes, args.jobs, args.force, args.source, args.config)
        summary = corpus_summary(args.name)
    else:
        if not args.source or not args.folder_name:
            raise DataError("data build folder needs --source DIR (your audio files) and --name NAME (the corpus)")
        if args.minutes is not None:
            raise DataError("--minutes does not apply to data build folder: the corpus holds all of its folder's audio")
        check_folder_corpus_name(args.folder_name)
        _check_home()
        was_built = is_built(args.folder_name)
        path = build_folder_corpus(args.source, args.folder_name, args.kind or "speech", args.jobs, args.force)
        summary = corpus_summary(args.folder_name)
    if was_built and not args.force:
        print(f"{path}: already built ({summary['minutes']:g} training minutes); --force rebuilds it")
        return
    splits = ", ".join(f"{s} {v['clips']} clips / {v['seconds'] / 60:.1f} min" for s, v in summary["splits"].items())
    print(f"{path}: {splits}; {len(summary['skipped'])} skipped; {time.perf_counter() - started:.0f} s")


def _cmd_fetch(args) -> None:
    from wgpt_lite.data.builders.maestro import fetch_maestro  # builders load only when something is built

    print(fetch_maestro(args.hours, args.dest, timeout=args.timeout))


def _positive(text: str) -> float:
    """argparse type: a finite number above zero (nan, inf and 0 are refused with one line)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _corpus(name: str) -> str:
    """argparse type: a built-in corpus or a built folder corpus; an unknown name is one line naming the fix."""
    try:
        return corpus_spec(name).name
    except DataError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _count(text: str) -> int:
    """argparse type: a whole number of at least 1 (0, -3, 2.5 and 'ten' are refused with one line)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _cmd_list(args) -> None:
    for name in corpus_names():
        state = "not built"
        if is_built(name):
            splits = corpus_summary(name)["splits"]
            state = ", ".join(f"{s} {v['seconds'] / 60:.1f} min" for s, v in splits.items())
        print(f"{name:14s} {corpus_dir(name)}  [{state}]")


def _cmd_features(args) -> None:
    _check_home()
    print(feature_worker(args.name, args.split, args.tokenizer, args.workers, args.worker))


def _cmd_sample(args) -> None:
    from wgpt_lite.data.builders.sample import build_sample  # builders load only when something is built

    print(build_sample())


# ---------------------------------------------------------------------------
# train | evaluate | reproduce


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help="model sizes and training budget: paper (the paper's 3.7M/40M/4M models, an A100/L4-class GPU), "
        "colab (the same models, half the steps: a free Colab T4), mini (scaled down for 2 CPU cores, "
        "minutes), smoke (seconds). Default: $WGPT_PRESET, else paper on a GPU with bf16 and 20 GB or more, "
        "colab on other GPUs, mini otherwise",
    )
    parser.add_argument(
        "--tokenizer",
        default="auto",
        choices=TOKENIZERS,
        help="audio tokens: encodec (the paper's), codec (codebook 0 of the kit's own codec, committed "
        "weights), melvq (offline k-means stand-in whose tokens leak the mel), auto (encodec when its weights "
        "load, else codec). Default: auto",
    )
    parser.add_argument(
        "--steps",
        type=_count,
        default=None,
        help="override the preset's number of training steps (the most, with early stopping)",
    )
    parser.add_argument(
        "--patience",
        type=_count,
        default=None,
        help="stop a model after this many evaluations without a better validation NLL and score its best weights "
        "(default: the preset's; mini: 3)",
    )
    parser.add_argument(
        "--no-early-stopping", dest="early_stopping", action="store_false", help="train every model all --steps"
    )
    parser.add_argument("--device", default=None, help=DEVICE_HELP)
    parser.add_argument("--compile", action="store_true", default=None, help="torch.compile the models (CUDA)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def _add_train(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train one model on one corpus (resumable)",
        description="Train one model on one corpus. Writes OUT/CORPUS/MODEL/metrics.jsonl and checkpoint.pt; "
        "--resume continues an interrupted run on the same curve. One run at a time writes a run folder: a second "
        "one into OUT/CORPUS/MODEL is refused while the first runs.",
    )
    parser.add_argument("--model", required=True, choices=MODELS, help="which model")
    parser.add_argument(
        "--corpus", required=True, type=_corpus, help=f"{CORPUS_HELP} (a built-in one is built on first use)"
    )
    parser.add_argument("--out", default=None, help="results folder (default: results/PRESET-TOKENIZER)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/CORPUS/MODEL/checkpoint.pt")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="initial weights and training crops (default 0; others: OUT/CORPUS/MODEL-seedK)",
    )
    _add_common(parser)
    parser.set_defaults(func=_cmd_train)


def _add_evaluate(commands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a checkpoint: NLL (nats/token), PPL and top-1 accuracy; or several on your own audio",
        description="Score a trained checkpoint on fixed, seeded crops of a split of its corpus; with --audio DIR, "
        "score one or more checkpoints on every token of the audio files in DIR (each with its own tokenizer).",
    )
    parser.add_argument(
        "checkpoint", nargs="+", help="checkpoint.pt written by train or reproduce (several with --audio)"
    )
    parser.add_argument(
        "--audio",
        default=None,
        metavar="DIR",
        help="a folder of your own audio (searched recursively; wav, flac, ogg, mp3) to score on instead of a split",
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="with --audio: also write the rows here")
    parser.add_argument(
        "--split", default=None, help="split to score (default: test, or validation for corpora without a test split)"
    )
    parser.add_argument("--crops", type=_count, default=None, help="number of crops (default: the preset's)")
    parser.add_argument("--device", default=None, help=DEVICE_HELP)
    parser.set_defaults(func=_cmd_evaluate)


def _add_reproduce(commands) -> None:
    parser = commands.add_parser(
        "reproduce",
        help="the paper's experiment: three models per corpus, one budget, table + curves",
        description=_module_doc("experiment.reproduce"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--corpus",
        default=None,
        help=f"comma-separated corpora, from {', '.join(CORPORA)} or folder corpora made by `data build folder` "
        "(default: librispeech,maestro for paper, mini-speech,mini-music for mini, the committed samples for smoke)",
    )
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models (default: %(default)s)")
    parser.add_argument("--out", default=None, help="results folder (default: results/PRESET-TOKENIZER)")
    parser.add_argument(
        "--seeds",
        type=_count,
        default=1,
        help="seeds per model (initial weights and training crops; the scoring crops never change): the table "
        "shows mean ± sd and paired differences with 95%% intervals (default 1)",
    )
    _add_common(parser)
    parser.set_defaults(func=_cmd_reproduce)


def _add_sweep(commands) -> None:
    parser = commands.add_parser(
        "sweep",
        help="ablations of the hybrid, one setting at a time, with seeds: table + figure",
        description=_module_doc("experiment.sweep"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--corpus", required=True, help="the corpus to run the sweep on")
    parser.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="SETTING=V1,V2",
        help="one setting and its values, each a variant of the preset's hybrid; repeat for more "
        f"({', '.join(SETTINGS)})",
    )
    parser.add_argument("--seeds", type=_count, default=3, help="seeds per variant (default 3)")
    parser.add_argument("--out", default=None, help="results folder (default: results/PRESET-TOKENIZER)")
    _add_common(parser)
    parser.set_defaults(func=_cmd_sweep)


def _names(text: str, valid: tuple[str, ...], what: str, error: type[Exception]) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        raise error(f"unknown {what} {', '.join(unknown) or repr(text)}; choose from {', '.join(valid)}")
    return names


def _budget(args) -> dict:
    """The TrainConfig fields the command line overrides (``None``: the preset's; patience 0: no early stopping)."""
    return {"steps": args.steps, "compile": args.compile, "patience": args.patience if args.early_stopping else 0}


def _check_device_and_folders(args) -> None:
    """Refuse a --device this machine lacks, then a WGPT_HOME, then an --out (or WGPT_RESULTS) that cannot become a
    writable folder: now, not after the data has loaded. The folders are created only once the run starts, so a
    refused command leaves none behind."""
    pick_device(args.device)
    _check_home()
    if args.out:
        check_folder_can_be_written(Path(args.out).expanduser(), "--out folder")
    else:
        _check_results_root()


def _check_home() -> None:
    """Refuse a WGPT_HOME (or its default) that cannot become a writable folder, before a corpus or cache is read."""
    check_folder_can_be_written(home_dir(), "cache folder (WGPT_HOME)", fix="set WGPT_HOME to another folder")


def _check_results_root() -> None:
    """Refuse a WGPT_RESULTS (or its default) that cannot become a writable folder, for a command without --out."""
    check_folder_can_be_written(
        results_root(), "results folder (WGPT_RESULTS)", fix="set WGPT_RESULTS to another folder (or give --out)"
    )


def _cmd_train(args) -> None:
    preset = get_preset(args.preset or default_preset())  # resolved once, handed down as an object
    config = train_config(preset, seed=args.seed, **_budget(args))
    distributed.check_batch(config.batch_size)  # under torchrun: before any rank waits for another
    _check_device_and_folders(args)
    with distributed.process_group():
        # rank 0 extracts the features, the others then read them
        data = distributed.first_on_rank_zero(CorpusData, args.corpus, args.tokenizer, config)
        out = Path(args.out) if args.out else results_dir(preset.name, data.tokenizer)
        row = train_model(
            args.model, data, preset, config, out, resume=args.resume, device=args.device, progress=args.progress
        )
    if distributed.is_main():
        print(scores_line(row))


def _cmd_evaluate(args) -> None:
    pick_device(args.device)  # a missing device is told before the checkpoint loads
    for checkpoint in args.checkpoint:
        if not Path(checkpoint).is_file():
            raise CheckpointError(
                f"{checkpoint}: no checkpoint file there; give the checkpoint.pt that train or reproduce wrote "
                "(OUT/CORPUS/MODEL/checkpoint.pt)"
            )
    if not args.audio:
        if len(args.checkpoint) > 1 or args.json:
            raise DataError("several checkpoints and --json go with --audio DIR; without it, give one checkpoint")
        _check_home()  # the corpus's crops are read through its feature cache
        print(scores_line(score_checkpoint(args.checkpoint[0], args.split, args.crops, args.device)))
        return
    if args.split or args.crops:
        raise DataError("--split and --crops pick crops of a checkpoint's corpus; leave them out with --audio")
    if args.json:
        check_folder_can_be_written(Path(args.json).expanduser().parent, "--json folder")
    scored = score_folder(args.checkpoint, args.audio, args.device)
    for row in scored["rows"]:
        print(scores_line(row))
    report_skipped(args.audio, scored["skipped"], "files")
    if args.json:
        writable_folder(Path(args.json).expanduser().parent, "--json folder")
        write_json(Path(args.json).expanduser(), scored, indent=1)


def _cmd_reproduce(args) -> None:
    preset = args.preset or default_preset()
    corpora = _names(args.corpus or ",".join(preset_corpora(preset)), corpus_names(), "corpus", DataError)
    models = tuple(_names(args.models, MODELS, "model", ModelError))
    distributed.check_batch(train_config(preset, **_budget(args)).batch_size)
    _check_device_and_folders(args)
    tokenizer = tokenizer_name(args.tokenizer)  # "auto" decided once (it may try a download)
    out = Path(args.out) if args.out else results_dir(preset, tokenizer)
    with distributed.process_group():
        rows = reproduce(
            preset,
            corpora,
            tokenizer,
            out,
            models,
            seeds=args.seeds,
            device=args.device,
            progress=args.progress,
            **_budget(args),
        )
    if not distributed.is_main():
        return
    for row in rows:
        print(scores_line(row))
    print(f"wrote {out / 'results.md'}, {out / 'curves.png'} and the logs under {out}/")


def _cmd_sweep(args) -> None:
    preset = args.preset or default_preset()
    corpus = _names(args.corpus, corpus_names(), "corpus", DataError)[0]
    variations = parse_variations(args.vary)
    _check_device_and_folders(args)
    tokenizer = tokenizer_name(args.tokenizer)
    out = Path(args.out) if args.out else results_dir(preset, tokenizer)
    rows = sweep(
        preset,
        corpus,
        variations,
        seeds=args.seeds,
        tokenizer=tokenizer,
        out=out,
        device=args.device,
        progress=args.progress,
        **_budget(args),
    )
    for row in rows:
        print(f"{row['variant']}: hybrid test NLL {row['nll']['mean']:.3f} over {row['nll']['n']} seeds")
    print(f"wrote {out / f'sweep-{corpus}.md'} and .png")


# ---------------------------------------------------------------------------
# probe


def _add_probe(commands) -> None:
    parser = commands.add_parser(
        "probe",
        help="how much one mel frame tells: token t+1 from mel frame t alone, beside the baselines and models",
        description=_module_doc("experiment.probe"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--corpus", required=True, type=_corpus, help=f"{CORPUS_HELP} (a built-in one is built on first use)"
    )
    parser.add_argument(
        "--tokenizer",
        default="auto",
        choices=TOKENIZERS,
        help="audio tokens (default auto: encodec when its weights load, else the kit's codec)",
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help="whose scoring crops and results folder (default: $WGPT_PRESET, else the best fit for this machine)",
    )
    parser.add_argument(
        "--results",
        default=None,
        metavar="DIR",
        help="the reproduction whose GPT-S and hybrid to show beside the probe (default: results/PRESET-TOKENIZER)",
    )
    parser.add_argument(
        "--steps", type=_count, default=PROBE_STEPS, help="the probe's training steps (default: %(default)s)"
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(func=_cmd_probe)


def _cmd_probe(args) -> None:
    _check_home()
    rows = mel_frame_probe(
        args.corpus,
        args.tokenizer,
        args.preset or default_preset(),
        results=args.results,
        steps=args.steps,
        progress=args.progress,
    )
    print(probe_table(rows), end="")


# ---------------------------------------------------------------------------
# sample


PROMPT_SECONDS = 2.0  # `sample`'s prompt when the model's context holds it


def _add_sample(commands) -> None:
    sample = commands.add_parser(
        "sample",
        help="continue a clip with a trained model: WAV + spectrogram",
        description="Continue the start of an audio file with a trained checkpoint. Writes OUT/NAME.wav (prompt "
        "and continuation, rendered from the tokens) and OUT/NAME.png (its log-mel, the prompt marked).",
    )
    sample.add_argument("--checkpoint", required=True, help="a checkpoint.pt written by train or reproduce")
    sample.add_argument("--prompt", required=True, help="an audio file; its first --prompt-seconds are the prompt")
    sample.add_argument(
        "--prompt-seconds",
        type=_positive,
        default=None,
        help=f"seconds of prompt (default {PROMPT_SECONDS:g}, or half the model's context if that is shorter)",
    )
    sample.add_argument("--seconds", type=_positive, default=3.0, help="seconds to generate (default 3)")
    sample.add_argument("--temperature", type=_positive, default=1.0, help="sampling temperature (default 1)")
    sample.add_argument("--top-k", type=_count, default=None, help="sample among the k likeliest tokens")
    sample.add_argument("--top-p", type=_positive, default=None, help="nucleus sampling, in (0, 1]")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0): the same seed, the same sample")
    sample.add_argument("--out", default="samples", help="folder for the WAV and the figure (default: %(default)s)")
    sample.set_defaults(func=_cmd_continue)


def _cmd_continue(args) -> None:
    if not Path(args.checkpoint).is_file():
        raise CheckpointError(f"{args.checkpoint}: no checkpoint file there")
    check_folder_can_be_written(Path(args.out).expanduser(), "--out folder")  # created only once there is audio
    _, tokenizer, model = load_with_tokenizer(args.checkpoint)  # the tokens it was trained on, checked, one load
    # by default half a small model's context, as notebook 06 does: a prompt longer than the context is refused
    seconds = args.prompt_seconds or min(PROMPT_SECONDS, model.config.context / 2 / FRAME_RATE)
    wav = crop_to_frames(load_audio(args.prompt)[: round(seconds * SAMPLE_RATE)])
    result, audio = continue_clip(
        model,
        tokenizer,
        wav,
        args.seconds,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    )
    name = f"{Path(args.prompt).stem}-{Path(args.checkpoint).parent.name}-seed{args.seed}"  # the run folder: the model
    out = writable_folder(args.out, "--out folder")
    save_audio(out / f"{name}.wav", audio)
    ax = plot_continuation(log_mel(audio), wav.shape[-1] // HOP, title=f"{name}: prompt | continuation")
    with atomic_path(out / f"{name}.png") as tmp:
        ax.figure.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    print(f"wrote {out / name}.wav and .png ({tokenizer.name} tokens, {result.tokens.shape[-1]} frames)")


# ---------------------------------------------------------------------------
# codec


def _add_codec(commands) -> None:
    codec = commands.add_parser(
        "codec",
        help="train, measure and export the kit's own audio codec (codebook 0: the `codec` tokens)",
        description=_module_doc("experiment.codec_training"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = codec.add_subparsers(dest="action", metavar="ACTION", required=True)
    corpora = ",".join(codec_training.CORPORA)
    train = actions.add_parser("train", help="train (or resume) in a run folder, on the corpora's training splits")
    train.add_argument("--run", required=True, help="run folder: checkpoint.pt and metrics.jsonl; resumed if there")
    train.add_argument("--steps", required=True, type=_count, help="train up to this many steps in total")
    train.add_argument(
        "--from-weights", default=None, help="a new run starts from exported weights and their steps (else ignored)"
    )
    train.add_argument("--corpus", default=corpora, help="comma-separated corpora (default: %(default)s)")
    train.add_argument("--batch", type=_count, default=codec_training.BATCH, help="crops a step (default %(default)s)")
    train.add_argument("--crop-seconds", type=_positive, default=codec_training.CROP_SECONDS, help="crop length (s)")
    train.add_argument("--seed", type=int, default=0, help="initial weights and crops (default 0)")
    train.add_argument("--device", default="cpu", help=DEVICE_HELP.replace("the best available", "cpu"))
    train.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    report = actions.add_parser("report", help="reconstruction, codebook usage, bitrate and audio on held-out clips")
    report.add_argument("--weights", default=str(codec_training.WEIGHTS), help="weights file (default: the kit's)")
    report.add_argument("--corpus", default=corpora, help="comma-separated corpora (default: %(default)s)")
    report.add_argument("--split", default="test", help="held-out split to measure on (default: %(default)s)")
    report.add_argument("--out", default="codec-report", help="folder for report.md/.json and WAVs (%(default)s)")
    report.add_argument("--listen", type=int, default=3, help="clips per corpus written as WAV (default 3)")
    export = actions.add_parser("export", help="a run's weights as the committed fp16 file, its card and its report")
    export.add_argument("--run", required=True, help="run folder of `codec train`")
    export.add_argument("--out", default=str(codec_training.WEIGHTS), help="weights file (default: the kit's)")
    export.add_argument("--report", default="codec-report", help="folder for the report (default: %(default)s)")
    export.add_argument("--note", default="", help="a status line for the card (e.g. that training goes on)")

    def run(args) -> None:
        names = _names(args.corpus, corpus_names(), "corpus", DataError) if "corpus" in args else None
        if names:  # train and report read the corpora, built on first use under WGPT_HOME
            _check_home()
        if args.action == "train":
            pick_device(args.device)
            command = " ".join(["python -m wgpt_lite", *sys.argv[1:]])
            path = codec_training.train_codec(
                args.run, args.steps, tuple(names), args.batch, args.crop_seconds, args.seed,
                from_weights=args.from_weights, device=args.device, command=command, progress=args.progress,
            )  # fmt: skip
            print(f"wrote {path}")
        elif args.action == "report":
            report = codec_training.codec_report(args.weights, tuple(names), args.split, args.out, args.listen)
            print(codec_training.report_markdown(report) + f"wrote {Path(args.out) / 'report.md'} and the WAVs")
        else:
            card = codec_training.export_codec(args.run, args.out, args.report, note=args.note)
            print(f"wrote {args.out} and {card}")

    codec.set_defaults(func=run)


# ---------------------------------------------------------------------------
# tokenizers


def _add_tokenizers(commands) -> None:
    tokenizers = commands.add_parser(
        "tokenizers",
        help="the kit's tokenizers side by side: reconstruction, bitrate, codebook 0's usage",
        description=_module_doc("experiment.token_comparison"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = tokenizers.add_subparsers(dest="action", metavar="ACTION", required=True)
    compare = actions.add_parser("compare", help="codec, melvq and EnCodec measured on the same held-out clips")
    compare.add_argument(
        "--corpus", default=",".join(token_comparison.CORPORA), help="comma-separated corpora (default: %(default)s)"
    )
    compare.add_argument("--split", default="test", help="held-out split to measure on (default: %(default)s)")
    compare.add_argument(
        "--tokenizers",
        default=",".join(token_comparison.TOKENIZERS),
        help="comma-separated (default: %(default)s; encodec: the untrained stand-in, the real one, the paper)",
    )
    compare.add_argument("--max-clips", type=_count, default=None, help="first clips of each corpus (default: all)")
    compare.add_argument(
        "--max-seconds",
        type=_positive,
        default=token_comparison.QUICK_SECONDS,
        help="first seconds of each corpus, in whole clips (default %(default)g: a few minutes on one CPU thread)",
    )
    compare.add_argument("--all", action="store_true", help="every clip of the split: no --max-seconds limit")
    compare.add_argument(
        "--out", default=None, help="folder for comparison.md/.json (default: results/token-comparison)"
    )
    compare.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")

    def run(args) -> None:
        names = _names(args.corpus, corpus_names(), "corpus", DataError)
        tokenizers = _names(args.tokenizers, token_comparison.TOKENIZERS, "tokenizer", TokenizerError)
        _check_home()
        if args.out:
            check_folder_can_be_written(Path(args.out).expanduser(), "--out folder")
        else:
            _check_results_root()
        out = Path(args.out).expanduser() if args.out else results_root() / "token-comparison"
        seconds = None if args.all else args.max_seconds
        report = token_comparison.compare_tokenizers(
            names, args.split, tokenizers, args.max_clips, seconds, out=out, progress=args.progress
        )
        print(token_comparison.comparison_markdown(report) + f"wrote {out / token_comparison.REPORT_NAME}.md and .json")

    tokenizers.set_defaults(func=run)
