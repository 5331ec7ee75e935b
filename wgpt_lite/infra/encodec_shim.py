"""Import the ``encodec`` package where torchaudio does not import.

encodec imports torchaudio at module level, but only uses it in helpers the kit never
calls (file I/O, resampling, its training discriminator). Both users of encodec's code, the
EnCodec tokenizer (``tokenizers.py``) and the kit's own codec (``codec.py``), import it
through ``import_encodec``; the tokenizers module re-exports it.
"""

from __future__ import annotations

import sys
import types


def import_encodec():
    """Import the ``encodec`` package even where torchaudio is missing or broken.

    When the real torchaudio does not import, a placeholder module stands in for it for
    the duration of the import; touching any attribute of it raises ImportError.
    """
    try:
        import torchaudio  # noqa: F401  (a working torchaudio needs no shim)
    except Exception:
        sys.modules["torchaudio"] = _MissingTorchaudio("torchaudio")
        try:
            import encodec
        finally:
            sys.modules.pop("torchaudio", None)  # later imports see the truth again
        return encodec
    import encodec

    return encodec


class _MissingTorchaudio(types.ModuleType):
    def __getattr__(self, attr):
        raise ImportError(
            f"torchaudio.{attr} is not available: wgpt_lite imported encodec without torchaudio, "
            "which only encodec's file/resampling helpers need; use wgpt_lite.load_audio instead"
        )
