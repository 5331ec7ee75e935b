"""wgpt_lite: a small kit to see, train and measure Whisper-GPT (Verma, 2024).

The public API follows the story the notebooks tell, one step per line::

    import wgpt_lite as wl
    wav = wl.load_audio("clip.wav")                       # 01 front end: mono float32 at 24 kHz
    mel = wl.log_mel(wav)                                 #    [frames, 64], causal, 75 frames a second
    tok = wl.corpus_tokenizer("mini-speech")              # 02 tokens: EnCodec, or melvq fitted on train
    data = wl.features("mini-speech", "train", tok)       #    cached tokens + mel of every clip
    tokens, mel = wl.random_crops(data, 256, 16, gen)     #    aligned training crops
    model = wl.build_model("hybrid", "mini")              # 03 models: sizes in wgpt_lite/presets.py
    wl.train_in_folder(model, data, eval_batch, wl.train_config("mini"), "runs/hybrid", run)  # 04 training
    rows = wl.reproduce("mini", wl.preset_corpora("mini"))                           # 04-05 the comparison
    scored = wl.score_folder(["results/mini-melvq/mini-speech/hybrid/best.pt"], "my_audio/")  # your audio

Heavy or optional packages (encodec, datasets, matplotlib, jupyter) load only when used.
``python -m wgpt_lite setup`` installs the others, so it starts before them: Python imports
this file before the package's ``__main__``, and the set-up is handed over here, from the
standard library alone (``wgpt_lite/infra/install.py``).
"""

__version__ = "0.1.0"

import sys

from wgpt_lite.infra import install

if install.setup_requested():
    sys.exit(install.main(sys.argv[2:]))

from wgpt_lite.audio import (
    FRAME_RATE,
    HOP,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
    load_audio,
    log_mel,
    mel_filters,
    normalise_peak,
    power_spectrogram,
    save_audio,
)
from wgpt_lite.batches import MEL_CONTROLS, MEL_LAG, control_mel, eval_crops, random_crops
from wgpt_lite.codec import Codec, CodecConfig, CodecTokenizer
from wgpt_lite.data.corpora import (
    CORPORA,
    build_corpus,
    build_folder_corpus,
    corpus_dir,
    corpus_summary,
    ensure_corpus,
    load_clip,
    read_manifest,
)
from wgpt_lite.data.feature_cache import corpus_tokenizer, features
from wgpt_lite.display.environment import environment_report, format_report
from wgpt_lite.display.inversion import mel_to_audio, tokens_to_audio
from wgpt_lite.display.plots import plot_curves, plot_gain_over_spectrogram, plot_mel_gain
from wgpt_lite.display.widgets import gain_explorer, ready_colab_widgets, spectrogram_explorer
from wgpt_lite.experiment.baselines import BASELINES, fit_baseline, score_baseline
from wgpt_lite.experiment.budget import budget_line, comparison_seconds, measure_step_seconds
from wgpt_lite.experiment.causality import future_leak, mel_influence, model_future_leak
from wgpt_lite.experiment.controls import frame_nll, position_nll
from wgpt_lite.experiment.generation_quality import (
    closed_loop_mismatch,
    continuation_nll,
    continue_clip,
    quality_proxies,
    repetition_rate,
    token_entropy,
)
from wgpt_lite.experiment.own_audio import score_folder
from wgpt_lite.experiment.probe import (
    MelFrameProbe,
    fit_probe,
    mel_frame_probe,
    probe_table,
    probe_verdict,
    score_probe,
)
from wgpt_lite.experiment.reproduce import (
    controls_table,
    reproduce,
    results_dir,
    score_checkpoint,
    score_controls,
    table_split,
    train_model,
)
from wgpt_lite.experiment.results import (
    corpus_verdicts,
    differences_table,
    load_runs,
    paired_differences,
    results_table,
    run_folder,
    summarise_seeds,
    trained_seeds,
    verdict_label,
    verdict_lines,
    verdict_rule,
    verdict_table,
)
from wgpt_lite.experiment.stats import mean_interval, token_counts, token_summary
from wgpt_lite.experiment.sweep import parse_variations, sweep
from wgpt_lite.experiment.token_comparison import compare_tokenizers, comparison_markdown
from wgpt_lite.generate import (
    Generation,
    generate,
    mel_source,
)
from wgpt_lite.infra.device import autocast, pick_device, pick_precision
from wgpt_lite.infra.errors import (
    AudioError,
    CheckpointError,
    DataError,
    ModelError,
    TokenizerError,
    TrainingError,
    WgptError,
)
from wgpt_lite.infra.install import setup
from wgpt_lite.infra.settings import home_dir
from wgpt_lite.model import GPT, KVCache, MelEncoder, ModelConfig, WhisperGPT
from wgpt_lite.presets import (
    MODELS,
    PAPER_PARAMS,
    PRESETS,
    build_model,
    default_preset,
    model_config,
    preset_corpora,
    train_config,
)
from wgpt_lite.runs.checkpoint import load_checkpoint, load_for_generation, model_from_checkpoint, scored_weights
from wgpt_lite.runs.run_folder import RunFolder, read_metrics, stop_reason, train_in_folder
from wgpt_lite.tokenizers import EncodecTokenizer, MelVQTokenizer, clip_features, get_tokenizer
from wgpt_lite.train import (
    Hooks,
    RunInfo,
    TrainConfig,
    TrainState,
    evaluate,
    lr_factor,
    make_optimizer,
    steps_per_epoch,
    train,
    update,
)

# Colab draws ipywidgets 8, which the `teaching` extra brings, only through its custom widget manager: on
# before the first progress bar or explorer. Outside a Colab kernel this does nothing.
ready_colab_widgets()
