"""The kit's exceptions. Each message names the file or setting at fault and the fix.

The CLI prints a ``WgptError`` as one line instead of a traceback.
"""


class WgptError(Exception):
    """Base class of every error the kit raises on purpose."""


class AudioError(WgptError, ValueError):
    """An audio file the kit cannot use."""


class TokenizerError(WgptError, RuntimeError):
    """A tokenizer that cannot be built, loaded or used (e.g. EnCodec weights missing)."""


class ModelError(WgptError, ValueError):
    """An unknown model or preset name, or inputs the model cannot take."""


class CheckpointError(WgptError, RuntimeError):
    """A checkpoint that is missing, unreadable, or from another model, preset or tokenizer."""


class TrainingError(WgptError, RuntimeError):
    """Training that cannot go on (e.g. a NaN loss); the message names the step."""


class DataError(WgptError, RuntimeError):
    """A corpus, manifest or feature cache the kit cannot build or use."""
