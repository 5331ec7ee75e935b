"""Members of a zip on a web server, without downloading the whole zip.

A zip keeps its table of contents (the central directory) at its end, and every member
at an offset written there. ``HttpRangeFile`` is a read-only, seekable file whose reads
are HTTP ``Range`` requests, so the standard ``zipfile`` reads the table with a few small
requests (ZIP64 included) and then only the bytes of the members asked for.

``extract_members`` writes each member atomically and can be run again after a kill: a
member already on disk at its full size is kept (it got its name only after ``zipfile``
had checked its CRC-32), a half-written temporary is deleted and the member fetched
again. Every request has a timeout; every failure is a one-line ``DataError`` naming the
URL or the file. Nothing is written outside the destination folder (``files.inside``), no
member larger than ``MAX_MEMBER_BYTES`` is asked for, and a member whose bytes do not add up
to the size the zip declares for it is refused, its partial file deleted.
"""

from __future__ import annotations

import http.client
import io
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from wgpt_lite.infra.atomic import atomic_path
from wgpt_lite.infra.errors import DataError
from wgpt_lite.infra.files import inside

READ_BYTES = 16 * 2**20  # one request per 16 MiB of a member: large enough that a request's latency hardly counts
# 3 hours of 48 kHz 16-bit stereo WAV (MAESTRO's richest format), far longer than any of its pieces: a member
# declared larger comes from a damaged or hostile zip, and is refused before a byte of it is asked for
MAX_MEMBER_BYTES = 2 * 2**30
# what a request can fail with: no connection, a timeout (both OSError), a garbled or cut answer (HTTPException)
NETWORK_ERRORS = (OSError, http.client.HTTPException)


def _open(url: str, timeout: float, byte_range: tuple[int, int] | None = None) -> http.client.HTTPResponse:
    """GET ``url`` (only bytes ``first..last``, inclusive, when ``byte_range``); failures become DataError."""
    headers = {"User-Agent": "wgpt_lite"}
    if byte_range:
        headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        raise DataError(f"{url}: HTTP {err.code} {err.reason}") from err
    except NETWORK_ERRORS as err:  # URLError is an OSError
        raise DataError(f"{url}: no answer ({getattr(err, 'reason', err)}; timeout {timeout:g} s)") from err


def download(url: str, path: Path, timeout: float = 60.0) -> None:
    """Download a small file whole, atomically: ``path`` is complete or absent."""
    try:
        with _open(url, timeout) as response:
            body = response.read()  # a body shorter than its Content-Length raises IncompleteRead
    except NETWORK_ERRORS as err:
        raise DataError(f"{url}: transfer broke ({err}; timeout {timeout:g} s)") from err
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(body)
    except OSError as err:
        raise DataError(f"cannot write {path}: {err}") from err


class HttpRangeFile(io.RawIOBase):
    """A read-only, seekable file over HTTP: each ``read(n)`` is one ``Range`` GET of n bytes.

    Opening it asks for byte 0 alone, which tells the file's size and whether the server
    answers ranges at all (``206 Partial Content``); a server that sends the whole file
    instead (``200``) is refused rather than downloaded.
    """

    def __init__(self, url: str, timeout: float = 60.0):
        super().__init__()
        self.url, self.timeout, self.position = url, timeout, 0
        with self._get(0, 0) as response:
            total = re.fullmatch(r"bytes 0-0/(\d+)", response.headers.get("Content-Range", "").strip())
        if not total:
            raise DataError(f"{url}: the answer to a Range request does not give the file's size")
        self.size = int(total.group(1))

    def _get(self, first: int, last: int) -> http.client.HTTPResponse:
        response = _open(self.url, self.timeout, (first, last))
        if response.status != 206:
            response.close()
            raise DataError(
                f"{self.url}: the server ignores Range requests (HTTP {response.status}, not 206), so single "
                "members cannot be read from the zip; download the whole zip and unpack it instead"
            )
        return response

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        start = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        if start + offset < 0:
            raise OSError(f"{self.url}: cannot seek to {start + offset}, before the start")
        self.position = start + offset
        return self.position

    def readinto(self, buffer) -> int:
        wanted = min(len(buffer), self.size - self.position)
        if wanted <= 0:
            return 0
        into, filled = memoryview(buffer).cast("B")[:wanted], 0
        with self._get(self.position, self.position + wanted - 1) as response:
            try:
                while filled < wanted:
                    received = response.readinto(into[filled:])
                    if not received:
                        raise http.client.IncompleteRead(bytes(filled), wanted - filled)
                    filled += received
            except NETWORK_ERRORS as err:
                raise DataError(
                    f"{self.url}: transfer broke at byte {self.position + filled} ({err!r}; timeout {self.timeout:g} s)"
                ) from err
        self.position += wanted
        return wanted


def open_remote_zip(url: str, timeout: float = 60.0) -> zipfile.ZipFile:
    """The zip at ``url`` with its central directory read (a few small Range requests)."""
    try:
        return zipfile.ZipFile(HttpRangeFile(url, timeout))
    except zipfile.BadZipFile as err:
        raise DataError(f"{url}: not a zip file ({err})") from err


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, bar: tqdm) -> None:
    """Stream one member to ``target`` through a temporary sibling, renamed once it is whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp, open(tmp, "wb") as sink:
        try:
            with archive.open(info) as source:
                # zipfile checks the CRC-32 when it reads the member's last byte and raises on a
                # mismatch, before atomic_path renames: only a whole, intact member gets its name
                while chunk := source.read(READ_BYTES):
                    sink.write(chunk)
                    bar.update(len(chunk))
        except (zipfile.BadZipFile, EOFError) as err:
            raise DataError(f"{info.filename}: corrupt in transfer ({err}); run the fetch again") from err
        # a stored member ends where its compressed size says, whatever its declared size: zipfile
        # does not compare the two, and a file shorter than declared would be fetched on every run
        if sink.tell() != info.file_size:
            raise DataError(
                f"{info.filename}: the zip declares {info.file_size} bytes, {sink.tell()} arrived; the zip is "
                "damaged or changed while being read: run the fetch again"
            )


def extract_members(url: str, dest: Path, members: dict[str, str], timeout: float = 60.0, desc: str = "") -> list[str]:
    """Write members of the zip at ``url`` under ``dest`` (``{name in the zip: path under dest}``).

    Returns the names it fetched. A file already on disk with its member's uncompressed
    size is kept; only the missing members' bytes are requested.
    """
    fix = "the list that named it (for MAESTRO, its CSV) is damaged; replace it with an intact copy"
    targets = {name: inside(dest, path, f"{url}, member {name}", fix) for name, path in members.items()}
    with open_remote_zip(url, timeout) as archive:
        names = set(archive.namelist())
        absent = [name for name in members if name not in names]
        if absent:
            raise DataError(f"{url} has no member {absent[0]} ({len(absent)} of {len(members)} asked for are missing)")
        huge = [info for info in map(archive.getinfo, members) if info.file_size > MAX_MEMBER_BYTES]
        if huge:
            raise DataError(
                f"{url}: member {huge[0].filename} declares {huge[0].file_size / 1e9:.1f} GB, more than the "
                f"{MAX_MEMBER_BYTES / 1e9:.1f} GB a real member holds; the zip is damaged: fetch from an intact copy"
            )
        todo = [
            info
            for info in map(archive.getinfo, members)
            if not targets[info.filename].is_file() or targets[info.filename].stat().st_size != info.file_size
        ]
        needed = sum(info.file_size for info in todo)
        if shutil.disk_usage(dest).free < needed:
            raise DataError(f"{dest}: {len(todo)} files need {needed / 1e9:.1f} GB, and less is free there")
        with tqdm(total=needed, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not todo) as bar:
            for info in todo:
                target = targets[info.filename]
                try:
                    _extract(archive, info, target, bar)
                except OSError as err:
                    raise DataError(f"cannot write {target}: {err}") from err
    return [info.filename for info in todo]
