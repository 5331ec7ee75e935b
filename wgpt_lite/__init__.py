"""wgpt_lite: a small kit to see, train and measure Whisper-GPT (Verma, 2024).

    import wgpt_lite as wl
    wav = wl.load_audio("clip.wav")      # mono float32 at 24 kHz
    mel = wl.log_mel(wav)                # [frames, 64], causal, 75 frames a second

Heavy or optional packages (encodec, datasets, jupyter) load only when used.
"""

from wgpt_lite.audio import FRAME_RATE, HOP, N_FFT, N_MELS, SAMPLE_RATE, load_audio, log_mel, save_audio
from wgpt_lite.batches import eval_crops, random_crops
from wgpt_lite.corpora import CORPORA, build_corpus, corpus_dir, corpus_summary, read_manifest
from wgpt_lite.errors import AudioError, CheckpointError, DataError, ModelError, TokenizerError, TrainingError, WgptError
from wgpt_lite.feature_cache import corpus_tokenizer, features
from wgpt_lite.model import GPT, ModelConfig, WhisperGPT, build_model
from wgpt_lite.settings import default_preset, home_dir
from wgpt_lite.tokenizers import EncodecTokenizer, MelVQTokenizer, get_tokenizer

__version__ = "0.1.0"
