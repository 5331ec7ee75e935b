"""The kit's exceptions. Each message names the file or setting at fault and the fix.

The CLI prints a ``WgptError`` as one line instead of a traceback.
"""


class WgptError(Exception):
    """Base class of every error the kit raises on purpose."""


class AudioError(WgptError, ValueError):
    """An audio file the kit cannot use."""


class TokenizerError(WgptError, RuntimeError):
    """A tokenizer that cannot be built, loaded or used (e.g. EnCodec weights missing)."""
