"""The kit's own audio codec: a waveform in, coarse tokens at 75 Hz out, and back to audio.

EnCodec's recipe (Défossez et al. 2022, arXiv:2210.13438) in miniature, built from the
``encodec`` package's own modules: a causal SEANet encoder turns each 320-sample hop of
24 kHz audio into one ``DIMENSION``-wide vector; a residual vector quantizer (RVQ) writes it
as ``N_Q`` codes, codebook 0 quantizing the vector and each later codebook what the ones
before it left over; the mirror-image SEANet decoder turns the summed code vectors back into
audio. **Codebook 0 is the coarse token stream** the language models predict; the others add
detail. Unlike melvq, the codes are learnt from the waveform for reconstruction, not
quantised from the mel the hybrid sees.

Causal like the log-mel: encoder frame ``t`` depends only on samples ``< (t + 1) * 320``,
and decoded samples ``< (t + 1) * 320`` only on frames ``<= t`` (tests/test_codec.py perturbs
the future and checks). The convolutions pad with zeros on the left (``pad_mode="constant"``):
EnCodec's default reflect padding mirrors a clip's first samples into the padding, so the
first frames would see their future.

``python -m wgpt_lite codec train`` trains it (experiment/codec_training.py); the weights it
made are committed as ``wgpt_lite/weights/codec-24khz.pt`` with a card beside them.

    >>> import torch
    >>> codec = Codec()                                  # random weights: shapes only
    >>> codes = codec.encode(torch.randn(2, 48_000))     # 2 clips of 2 s
    >>> codes.shape, codec.decode(codes).shape           # [codebooks, batch, frames], [batch, samples]
    (torch.Size([8, 2, 150]), torch.Size([2, 48000]))
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from wgpt_lite.audio import FRAME_RATE, HOP, crop_to_frames
from wgpt_lite.infra.encodec_shim import import_encodec
from wgpt_lite.infra.errors import TokenizerError
from wgpt_lite.infra.files import file_sha256, load_tensors, save_tensors

WEIGHTS = Path(__file__).parent / "weights" / "codec-24khz.pt"
RATIOS = (8, 5, 4, 2)  # the decoder upsamples by 8, 5, 4, 2; the encoder downsamples by 2, 4, 5, 8: one hop, 320
N_FILTERS = 12  # SEANet's base width (EnCodec: 32); 12 keeps encoding near 50x real time on one CPU thread
LSTM_LAYERS = 1  # after the encoder and before the decoder (EnCodec: 2)
DIMENSION = 64  # latent and codebook vector width (EnCodec: 128)
N_Q = 8  # codebooks: 8 x 10 bits x 75 Hz = 6 kbps; codebook 0 alone is 750 bps
BINS = 1024  # entries per codebook: the paper's coarse vocabulary
EMA_DECAY = 0.99  # codebook vectors follow the mean of their assigned vectors (EnCodec's value)
# A code whose EMA count of uses per training step falls below this is moved onto a vector of
# the batch: below a sixth of its fair share with a batch of 8 one-second crops (600 vectors
# for 1024 codes). EnCodec's threshold of 2 is made for far larger batches.
DEAD_CODE_THRESHOLD = 0.1


@dataclass(frozen=True)
class CodecConfig:
    n_filters: int = N_FILTERS
    lstm: int = LSTM_LAYERS
    dimension: int = DIMENSION
    n_q: int = N_Q
    bins: int = BINS
    ratios: tuple[int, ...] = RATIOS

    @property
    def bitrate(self) -> float:
        """Bits a second with every codebook."""
        return self.n_q * (self.bins - 1).bit_length() * FRAME_RATE


class Codec(nn.Module):
    """SEANet encoder -> residual vector quantizer -> SEANet decoder, all causal."""

    def __init__(self, config: CodecConfig = CodecConfig()):
        super().__init__()
        if int(torch.tensor(config.ratios).prod()) != HOP:
            raise TokenizerError(f"codec ratios {config.ratios} multiply to other than one hop ({HOP} samples)")
        self.config = config
        encodec = import_encodec()
        seanet = dict(
            n_filters=config.n_filters,
            dimension=config.dimension,
            ratios=list(config.ratios),
            lstm=config.lstm,
            causal=True,
            pad_mode="constant",
            true_skip=True,  # identity skips: the 1x1 skip convolutions at 24 kHz cost a third of encoding time
        )
        with warnings.catch_warnings():  # encodec 0.1.1 uses the deprecated weight_norm API; not ours to fix
            warnings.filterwarnings("ignore", message=".*weight_norm", category=FutureWarning)
            self.encoder = encodec.modules.SEANetEncoder(**seanet)
            self.decoder = encodec.modules.SEANetDecoder(**seanet)
        # encodec's own dead-code restart (threshold_ema_dead_code) writes a new vector for a dead
        # code, then, in the same step, recomputes every vector from the EMA statistics, which
        # still hold the old one: it never takes effect. restart_dead_codes does it instead.
        self.quantizer = encodec.quantization.ResidualVectorQuantizer(
            dimension=config.dimension,
            n_q=config.n_q,
            bins=config.bins,
            decay=EMA_DECAY,
            kmeans_init=False,  # random vectors until training's k-means (codec_training.init_codebooks)
            threshold_ema_dead_code=0,
        )

    def forward(
        self, wav: torch.Tensor, n_q: int | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Waveform [batch, samples] -> (decoded [batch, samples], codes [n_q, batch, frames], commitment loss).

        In training mode the codebooks learn (EMA), dead codes restart (drawing from
        ``generator``) and the gradient passes the quantizer straight through.
        """
        quantized, codes, commitment = self.quantize(self.encoder(wav[:, None]), n_q or self.config.n_q, generator)
        return self.decoder(quantized)[:, 0], codes, commitment

    def quantize(self, latent: torch.Tensor, n_q: int, generator: torch.Generator | None = None):
        """encodec's ResidualVectorQuantization.forward, with a working dead-code restart."""
        residual, quantized, codes, commitment = latent, torch.zeros_like(latent), [], latent.new_zeros(())
        for layer in self.quantizer.vq.layers[:n_q]:
            layer_quantized, indices, loss = layer(residual)
            if self.training:
                restart_dead_codes(layer._codebook, residual, generator)
            residual = residual - layer_quantized
            quantized = quantized + layer_quantized
            codes.append(indices)
            commitment = commitment + loss.mean() / n_q  # the mean over codebooks, as encodec's penalty
        return quantized, torch.stack(codes), commitment

    @torch.no_grad()
    def encode(self, wav: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Waveform [batch, samples] -> codes [n_q, batch, samples // 320]."""
        latent = self.encoder(crop_to_frames(wav.float())[:, None])
        return self.quantizer.vq.encode(latent, n_q=n_q or self.config.n_q)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [n, batch, frames] of the first n codebooks -> waveform [batch, frames * 320]."""
        return self.decoder(self.quantizer.vq.decode(codes))[:, 0]


@torch.no_grad()
def restart_dead_codes(
    codebook: nn.Module,
    vectors: torch.Tensor,
    generator: torch.Generator | None = None,
    threshold: float = DEAD_CODE_THRESHOLD,
) -> None:
    """Move each code whose EMA count fell below ``threshold`` onto a random vector of ``vectors`` [batch, dim, frames].

    Its EMA statistics move with it (count ``threshold``, sum ``threshold * vector``), so
    the next update keeps the new vector: a fix of encodec's ``expire_codes_``.
    """
    dead = codebook.cluster_size < threshold
    n_dead = int(dead.sum())
    if n_dead == 0:
        return
    flat = vectors.detach().transpose(1, 2).reshape(-1, vectors.shape[1])
    picks = flat[torch.randint(flat.shape[0], (n_dead,), generator=generator).to(flat.device)]
    codebook.embed[dead] = picks
    codebook.embed_avg[dead] = picks * threshold
    codebook.cluster_size[dead] = threshold


def save_codec(model: Codec, path: str | os.PathLike, steps: int, made_from: dict) -> str:
    """Write the weights file, atomically: fp16 tensors, the config, the training steps, what made them.

    Returns the file's sha256, the identity of the tokens it makes.
    """
    state = {name: t.half() if t.is_floating_point() else t for name, t in model.state_dict().items()}
    blob = {"config": asdict(model.config), "state_dict": state, "steps": steps, "made_from": made_from}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_tensors(path, blob)
    return file_sha256(path)


def load_codec(path: str | os.PathLike = WEIGHTS) -> tuple[Codec, dict]:
    """A codec in eval mode from a weights file ``save_codec`` wrote, and the file's other contents."""
    path = Path(path)
    if not path.is_file():
        raise TokenizerError(
            f"{path}: no codec weights there; `python -m wgpt_lite codec train` then `codec export` makes them"
        )

    committed = path.resolve() == WEIGHTS.resolve()

    def refuse(reason: str) -> TokenizerError:
        fix = "restore the kit's file (git checkout -- wgpt_lite/weights, or reinstall wgpt_lite)"
        return TokenizerError(
            f"{path}: not a codec weights file the kit wrote ({reason}); {fix if committed else 'export it again'}"
        )

    blob = load_tensors(path, refuse)  # weights only (a weights file cannot run code), checked against their digest
    try:
        model = Codec(CodecConfig(**{**blob["config"], "ratios": tuple(blob["config"]["ratios"])}))
        model.load_state_dict(blob["state_dict"])  # fp16 tensors are copied into the fp32 model
    except TokenizerError:
        raise
    except Exception as err:  # a dict torch wrote, but not of a codec: missing keys, other shapes
        raise refuse((str(err).strip().splitlines() or [type(err).__name__])[0]) from None
    return model.eval(), {key: value for key, value in blob.items() if key != "state_dict"}


class CodecTokenizer:
    """Codebook 0 of the kit's codec: 75 tokens a second, vocabulary 1024; ``decode`` gives audio.

    ``CodecTokenizer()`` loads the committed weights; ``settings()`` names them by their sha256.
    """

    name = "codec"
    frame_rate = FRAME_RATE
    decodes_to = "audio"

    def __init__(self, path: str | os.PathLike = WEIGHTS):
        self.model, self.info = load_codec(path)
        self.vocab_size = self.model.config.bins
        self.weights = str(path)
        self.weights_sha256 = file_sha256(path)

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """[samples] (or [batch, samples]) at 24 kHz -> codebook 0, LongTensor [frames] ([batch, frames])."""
        return self.encode_codes(wav, n_q=1)[0]

    def encode_codes(self, wav: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """[samples] ([batch, samples]) -> the first n_q codebooks' codes, [n_q, frames] ([n_q, batch, frames])."""
        codes = self.model.encode(wav.reshape(-1, wav.shape[-1]), n_q).long()
        return codes if wav.dim() == 2 else codes[:, 0]

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Codebook-0 tokens [frames] -> waveform [frames * 320], from the coarse codebook alone."""
        return self.decode_codes(tokens.reshape(1, -1))

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes of the first n codebooks [n, frames] -> waveform [frames * 320]."""
        return self.model.decode(codes.long()[:, None])[0]

    def settings(self) -> dict:
        return {"name": self.name, "weights_sha256": self.weights_sha256, "codebook": 0}
