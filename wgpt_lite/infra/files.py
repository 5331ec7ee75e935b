"""Files the kit writes and reads back: sealed with a digest of their content, checked before use.

Every file the kit later reads as data carries a sha256 of its content, written with it in one
atomic step and checked on every read before the content is used, so that a damaged file is
refused in one line instead of giving a normal-looking wrong number:

- torch files (checkpoints, ``best.pt``, codebooks, codec weights): ``save_tensors`` adds
  ``CONTENT_DIGEST``, the sha256 of what the file holds (``content_digest``: every tensor's
  dtype, shape and bytes and every other value, in key order), and ``load_tensors`` recomputes
  it from what torch loaded. A digest inside the file, not beside it: one file is replaced in
  one rename, so no kill can leave a file and a digest of two versions. Hashing what was loaded
  rather than the file's bytes also catches a flip that torch reads without complaint.
- JSON files (results, summaries, ``extraction.json``): ``write_json`` adds the same key,
  the sha256 of the object's canonical JSON, and ``read_json`` checks it.
- folders of files another library writes (a feature cache's Arrow files): their marker JSON,
  written last, holds each file's sha256 (``folder_digests``, ``folder_difference``).
- an append-only JSON-lines log (``metrics.jsonl``): a checkpoint records how many lines it
  had and their sha256 (``log_mark``); a resume keeps exactly those lines or refuses
  (``restore_log``), and a reader names a line that does not parse (``read_json_lines``).

And where a name read from outside (a download, a CSV, a zip, a manifest) may lead: only inside
its folder (``inside``).

A check costs one sha256 pass over what is read: docs/benchmarks.md, "Reading sealed files".
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import warnings
from pathlib import Path, PureWindowsPath

import torch

from wgpt_lite.infra.atomic import atomic_path
from wgpt_lite.infra.errors import DataError

CONTENT_DIGEST = "sealed_sha256"  # the key that seals a torch file or a JSON object with its digest


def file_sha256(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# ---------------------------------------------------------------------------
# torch files


def content_digest(value) -> str:
    """sha256 of a nest of dicts, lists, tensors and plain values, independent of how torch stored them."""
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.hexdigest()


def _feed(digest, value) -> None:
    if torch.is_tensor(value):
        flat = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"T{value.dtype}{tuple(value.shape)}:".encode())
        digest.update(flat.view(torch.uint8).numpy() if flat.numel() else b"")
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}:".encode())
        for key in sorted(value, key=repr):
            digest.update(f"{key!r}=".encode())
            _feed(digest, value[key])
    elif isinstance(value, list | tuple):
        digest.update(f"L{len(value)}:".encode())
        for item in value:
            _feed(digest, item)
    else:  # numbers, strings, None: repr is exact (floats round-trip, nan and inf included)
        digest.update(f"V{value!r};".encode())


def save_tensors(path: str | os.PathLike, content: dict) -> None:
    """``torch.save`` of ``content`` with its ``CONTENT_DIGEST``, atomically: complete and sealed, or absent."""
    content = {key: value for key, value in content.items() if key != CONTENT_DIGEST}  # a file read and saved again
    with atomic_path(path) as tmp:
        torch.save({**content, CONTENT_DIGEST: content_digest(content)}, tmp)


def load_tensors(path: str | os.PathLike, refuse, sealed: bool = True) -> dict:
    """What ``save_tensors`` wrote, after checking its digest; an unreadable or damaged file raises
    ``refuse(reason)``, the caller's ``WgptError`` (its message names the file and the fix).

    ``torch.load`` unpickles nothing but tensors and plain containers (``weights_only``: a file
    cannot run code). ``sealed=False`` reads a file the kit did not write (EnCodec's published
    weights), which has no digest. The reason never repeats torch's advice to load the file with
    ``weights_only`` off: the kit never gives it, and the chained torch error is dropped (``from None``).
    """
    try:
        with warnings.catch_warnings():  # torch's note on a plain pickle's protocol: the reason says it all
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and torch errors alike
        raise refuse(_unreadable_reason(err)) from None
    return unseal(content, refuse) if sealed else content


def unseal(content, refuse) -> dict:
    """``content`` without its ``CONTENT_DIGEST``, once the digest matches; else ``refuse(reason)``."""
    if not is_sealed(content):
        raise refuse(
            "it carries no content digest: a file wgpt_lite did not write, or one written before it sealed its files"
        )
    content = dict(content)
    recorded = content.pop(CONTENT_DIGEST)
    if content_digest(content) != recorded:
        raise refuse("its content differs from the digest written with it: the file was damaged after it was written")
    return content


def is_sealed(content) -> bool:
    return isinstance(content, dict) and CONTENT_DIGEST in content


def _unreadable_reason(err: Exception) -> str:
    """What torch's refusal says the file is: a torch file holding Python objects, one cut short, or none at all.

    Torch's own message runs to pages, blurs the three and ends in advice to load the file unsafely.
    """
    text = str(err).strip()
    pickled = re.search(r"GLOBAL (\S+)", text)  # not allowed by default, or from a blocked module (os, sys)
    if pickled:
        return f"it holds pickled Python objects ({pickled[1]}), which wgpt_lite never loads"
    # A pickle that stops before its end, or a zip without its index (torch's reader seeks past the end: EINVAL)
    if isinstance(err, EOFError) or "central directory" in text or getattr(err, "errno", None) == errno.EINVAL:
        return "empty or cut short: the file ends before its data does"
    if isinstance(err, OSError):
        return f"it cannot be read ({err.strerror or err})"
    refused = re.search(r"WeightsUnpickler error:\s*(\S.*)", text)  # "Unsupported operand 110": not torch's pickle
    return f"not a file torch wrote: {refused[1]}" if refused else "not a file torch wrote"


# ---------------------------------------------------------------------------
# JSON files


def json_digest(value: dict) -> str:
    """sha256 of an object's canonical JSON (sorted keys, no spaces): how it is written does not matter."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def sealed_json(value: dict, indent: int | None = None) -> str:
    """The JSON text of ``value`` with its ``CONTENT_DIGEST`` (for a file written in a folder built as a whole)."""
    value = {key: item for key, item in value.items() if key != CONTENT_DIGEST}  # a file read and written again
    return json.dumps({**value, CONTENT_DIGEST: json_digest(value)}, indent=indent) + "\n"


def write_json(path: str | os.PathLike, value: dict, indent: int | None = None) -> None:
    """``value`` as JSON, sealed with its digest, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(sealed_json(value, indent))


def made_before_seals(path: str | os.PathLike) -> bool:
    """True for a JSON object or torch file (``.pt``) without a digest: one an older wgpt_lite wrote, which
    a cache makes again. False for a sealed file, a missing one, or one that does not parse (damaged:
    its reader refuses it in one line)."""
    try:
        if Path(path).suffix == ".pt":
            value = torch.load(path, map_location="cpu", weights_only=True)
        else:
            value = json.loads(Path(path).read_bytes().decode())
    except Exception:  # missing, or damaged: not this function's to say
        return False
    return isinstance(value, dict) and CONTENT_DIGEST not in value


def read_json(path: str | os.PathLike, what: str, fix: str) -> dict:
    """A JSON object ``write_json`` wrote, checked; else one ``DataError`` line naming ``path``, ``what``, ``fix``."""

    def refuse(reason: str) -> DataError:
        return DataError(f"{path}: {what} {reason}; {fix}")

    try:
        value = json.loads(Path(path).read_bytes().decode())
    except OSError as err:
        raise refuse(f"cannot be read ({err.strerror or err})") from None
    except ValueError as err:  # bad UTF-8 or bad JSON
        raise refuse(f"is not valid JSON ({str(err).splitlines()[0]})") from None
    if not isinstance(value, dict) or CONTENT_DIGEST not in value:
        raise refuse("carries no content digest (written before wgpt_lite sealed its files, or not by it)")
    recorded = value.pop(CONTENT_DIGEST)
    if json_digest(value) != recorded:
        raise refuse("differs from the digest written with it: the file was damaged or edited after it was written")
    return value


# ---------------------------------------------------------------------------
# Folders another library writes


def folder_digests(folder: str | os.PathLike, marker: str) -> dict[str, str]:
    """``{name: sha256}`` of every file under ``folder`` but its ``marker`` (the JSON that will hold them)."""
    folder = Path(folder)
    return {
        str(path.relative_to(folder)): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != marker
    }


def folder_difference(folder: str | os.PathLike, recorded: dict[str, str]) -> str:
    """What differs between ``folder``'s files now and the digests ``folder_digests`` recorded; "" when nothing."""
    folder = Path(folder)
    # Only the recorded files: one added beside them (datasets writes a map's cache-*.arrow into the
    # dataset's folder) is not part of what is read.
    missing = sorted(name for name in recorded if not (folder / name).is_file())
    changed = sorted(name for name in recorded if name not in missing and file_sha256(folder / name) != recorded[name])
    parts = [f"{name} {how}" for names, how in ((changed, "damaged"), (missing, "missing")) for name in names]
    return ", ".join(parts[:3]) + (f" and {len(parts) - 3} more" if len(parts) > 3 else "")


# ---------------------------------------------------------------------------
# Append-only JSON-lines logs


def log_mark(path: str | os.PathLike) -> dict:
    """``{"lines", "sha256"}`` of a log's complete lines now: what a checkpoint vouches for."""
    return _lines_mark(_complete_lines(Path(path).read_bytes()) if Path(path).is_file() else [])


def _lines_mark(lines: list[bytes]) -> dict:
    return {"lines": len(lines), "sha256": hashlib.sha256(b"".join(lines)).hexdigest()}


def restore_log(path: str | os.PathLike, mark: dict, refuse) -> None:
    """Cut the log back to the ``mark``'s lines (those after it are about to be redone), or raise
    ``refuse(reason)`` when it no longer holds them exactly: never a silently shorter log."""
    path = Path(path)
    data = path.read_bytes() if path.is_file() else b""
    lines = _complete_lines(data)
    kept = lines[: mark["lines"]]
    if len(kept) < mark["lines"]:
        raise refuse(f"it holds {len(lines)} of the {mark['lines']} lines logged up to the checkpoint")
    if _lines_mark(kept) != mark:
        first = _first_bad_line(kept)
        raise refuse(f"its first {mark['lines']} lines differ from those the checkpoint recorded{first}")
    if data != b"".join(kept):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"".join(kept))


def read_json_lines(path: str | os.PathLike, what: str, fix: str, torn_tail: bool = True) -> list[dict]:
    """The records of a JSON-lines file; a line that does not parse is one ``DataError`` naming its number.

    ``torn_tail`` (an append-only log): a last line without its newline is the one a kill cut short
    while writing it, and is skipped. Without it (a file written whole) every line counts.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: {what} cannot be read ({err.strerror or err}); {fix}") from None
    records = []
    for number, line in enumerate(_complete_lines(data) if torn_tail else data.split(b"\n"), 1):
        if line.strip():
            try:
                records.append(json.loads(line.decode()))
            except ValueError as err:  # bad UTF-8 or bad JSON
                raise DataError(
                    f"{path}, line {number}: {what} has a line that is not a JSON record "
                    f"({str(err).splitlines()[0]}); {fix}"
                ) from None
    return records


def _complete_lines(data: bytes) -> list[bytes]:
    """The lines of ``data`` that end in a newline, newline included."""
    return [line + b"\n" for line in data.split(b"\n")[:-1]]


def _first_bad_line(lines: list[bytes]) -> str:
    for number, line in enumerate(lines, 1):
        try:
            json.loads(line.decode())
        except ValueError:
            return f" (line {number} is not a JSON record)"
    return ""


# ---------------------------------------------------------------------------
# Names read from outside


def inside(folder: Path, name: str, source: str, fix: str) -> Path:
    """``folder / name``, once it is sure to lie inside ``folder``; otherwise one ``DataError`` line.

    For every name the kit did not make itself (a CSV's file names, a zip's members, a manifest's
    clip paths), so that a damaged or hostile file cannot make the kit write or read elsewhere.
    Refused: an empty name (or no string at all), an absolute path, a Windows drive or backslash
    (a path on Windows), and a name that leads out of ``folder`` once ``..`` and symlinks are
    followed (the whole chain is resolved; ``folder`` itself may be a symlink). ``source`` names
    the file or URL the name came from, ``fix`` what to do about it.
    """
    # "C:x", "/x" and "\\x" have an anchor (a drive or a root) as Windows reads them; no name here holds \\ or NUL
    if isinstance(name, str) and name and not PureWindowsPath(name).anchor and not {"\\", "\0"} & set(name):
        target, root = folder / name, folder.resolve()
        resolved = target.resolve()
        if resolved != root and resolved.is_relative_to(root):
            return target
    raise DataError(
        f"{source}: {name!r} is not a path inside {folder} (empty, absolute, a Windows path, or out through "
        f"'..' or a symlink); {fix}"
    )
