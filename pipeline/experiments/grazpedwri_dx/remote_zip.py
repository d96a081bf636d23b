"""Reading chosen members of a zip archive on a web server without downloading the archive.

A zip file ends with its central directory: the name, offset and size of every member. With
HTTP range requests (which figshare's storage, S3 and most static servers answer) a client
reads the end of the archive, then the directory, then only the bytes of the members it
wants. :class:`HttpRangeFile` is a seekable file object that does exactly that, so Python's
own :mod:`zipfile` parses the archive (zip64 included) and checks each member's CRC-32.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import time
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import requests
from requests.exceptions import ChunkedEncodingError
from tqdm import tqdm

from pipeline.core.errors import DownloadError

log = logging.getLogger(__name__)

TAIL_BYTES = 2**16  # the end-of-archive records (and a short comment) fit in the last 64 KiB
MIN_FETCH_BYTES = 2**14  # a read outside the buffer fetches at least this much
MEMBER_SLACK_BYTES = 256  # a local header's extra field may be longer than the directory's
_EXPIRED = frozenset({401, 403, 404, 410})
_RETRIED = frozenset({408, 429, 500, 502, 503, 504})


class HttpRangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file; every read is a range request unless it
    falls inside the last fetched window. ``bytes_received`` counts the bodies received.

    The first request follows redirects (figshare's download links redirect to signed
    storage URLs) and later ones go to the final URL; if that URL stops answering (a signed
    URL expired), the original address is asked again.
    """

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session | None = None,
        expected_size: int | None = None,
        timeout_seconds: float = 30.0,
        retries: int = 4,
        backoff_seconds: float = 1.0,
    ) -> None:
        super().__init__()
        self.url = url
        self._session = session or requests.Session()
        self._timeout = timeout_seconds
        self._retries = retries
        self._backoff = backoff_seconds
        self._resolved = url
        self._position = 0
        self._window_start = 0
        self._window = b""
        self.bytes_received = 0
        self.requests = 0
        self.size = self._probe()
        if expected_size is not None and self.size != expected_size:
            raise DownloadError(
                f"{url} has {self.size} bytes, but {expected_size} were expected: the file "
                "changed upstream or the address is wrong."
            )

    # -- the file interface zipfile uses -----------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError(f"seek before the start of {self.url}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self.size - self._position)
        if wanted <= 0:
            return 0
        end = self._position + wanted
        if not (self._window_start <= self._position and end <= self._window_end):
            self.prefetch(self._position, max(wanted, MIN_FETCH_BYTES))
        offset = self._position - self._window_start
        buffer[:wanted] = self._window[offset : offset + wanted]
        self._position = end
        return wanted

    # -- range requests ----------------------------------------------------------------------
    @property
    def _window_end(self) -> int:
        return self._window_start + len(self._window)

    def prefetch(self, start: int, length: int) -> None:
        """Fetch ``[start, start + length)`` (clipped to the file) in one request; reads
        inside it cost nothing more."""
        end = min(start + length, self.size)
        self._window = self._get(f"bytes={start}-{end - 1}", start)
        self._window_start = start

    def _probe(self) -> int:
        """Fetch the tail of the file, learning its size; the tail becomes the window."""
        _, _, total, self._window = self._request(f"bytes=-{TAIL_BYTES}")
        self._window_start = total - len(self._window)
        return total

    def _get(self, range_header: str, start: int) -> bytes:
        first, last, _, body = self._request(range_header)
        if first != start or len(body) != last - first + 1:
            raise DownloadError(f"{self.url} answered {range_header} with bytes {first}-{last} "
                                f"({len(body)} received)")
        return body

    def _request(self, range_header: str) -> tuple[int, int, int, bytes]:
        """``(first, last, total, body)`` of a 206 answer, retrying transient failures."""
        headers = {"Range": range_header, "Accept-Encoding": "identity"}
        for attempt in range(self._retries + 1):
            self.requests += 1
            try:
                with self._session.get(self._resolved, headers=headers, stream=True,
                                       timeout=self._timeout) as response:
                    status = response.status_code
                    if status == 206:
                        span = _content_range(response, self.url)
                        body = response.content  # a connection dropped here is retried
                        self.bytes_received += len(body)
                        self._resolved = response.url
                        return (*span, body)
            except (requests.ConnectionError, requests.Timeout, ChunkedEncodingError) as error:
                cause = type(error).__name__
            else:
                if status == 200:
                    raise DownloadError(
                        f"{self.url} does not answer range requests (HTTP 200 instead of 206): "
                        "download the whole archives instead (no image subset)."
                    )
                if status in _EXPIRED and self._resolved != self.url:
                    log.info("%s answered %d; asking %s again", self._resolved, status, self.url)
                    self._resolved = self.url
                    continue
                if status not in _RETRIED:
                    raise DownloadError(f"{self.url} answered HTTP {status} to {range_header}.")
                cause = f"HTTP {status}"
            if attempt == self._retries:
                raise DownloadError(
                    f"Reading {range_header} of {self.url} failed {attempt + 1} times ({cause})."
                )
            delay = self._backoff * 2**attempt
            log.warning("Reading %s of %s failed (%s); retrying in %.2f s",
                        range_header, self.url, cause, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")


def _content_range(response: requests.Response, url: str) -> tuple[int, int, int]:
    """``(first, last, total)`` from a 206 answer's Content-Range header."""
    header = response.headers.get("Content-Range", "")
    try:
        unit, _, rest = header.partition(" ")
        span, _, total = rest.partition("/")
        first, _, last = span.partition("-")
        if unit != "bytes":
            raise ValueError(unit)
        return int(first), int(last), int(total)
    except ValueError:
        raise DownloadError(f"{url}: unusable Content-Range header {header!r}") from None


@contextmanager
def open_zip(
    location: str | Path, *, expected_size: int | None = None, **reader_options: object
) -> Iterator[tuple[zipfile.ZipFile, HttpRangeFile | None]]:
    """A zip archive at a URL (read by range requests) or a local path, and its range reader
    (None for a local file)."""
    text = str(location)
    reader = None
    try:
        if text.startswith(("http://", "https://")):
            reader = HttpRangeFile(text, expected_size=expected_size, **reader_options)  # type: ignore[arg-type]
            archive = zipfile.ZipFile(reader)
        else:
            archive = zipfile.ZipFile(location)
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{location} is not a readable zip archive ({error}).") from error
    try:
        with archive:
            yield archive, reader
    finally:
        if reader is not None:
            reader.close()


def members_by_basename(archive: zipfile.ZipFile, where: str) -> dict[str, zipfile.ZipInfo]:
    """The archive's files by base name (archives of images nest them in folders)."""
    found: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = PurePosixPath(info.filename.replace("\\", "/")).name
        if name in found:
            raise DownloadError(
                f"{where}: two members are named {name}: {found[name].filename} and "
                f"{info.filename}; cannot tell which one is meant."
            )
        found[name] = info
    return found


def extract_members(
    archive: zipfile.ZipFile,
    members: Mapping[str, zipfile.ZipInfo],
    targets: Mapping[str, Path],
    *,
    where: str,
    reader: HttpRangeFile | None = None,
    max_member_bytes: int = 2**30,
    progress: bool = True,
) -> None:
    """Write member ``members[name]`` to ``targets[name]`` for every name in ``targets``.

    Each member is written to a ``.part`` sibling and renamed only once its CRC-32 matched,
    so an interrupted run leaves whole, verified files that a rerun can keep. With a range
    ``reader``, each member's bytes are fetched in a single request.
    """
    chosen = sorted(targets, key=lambda name: members[name].header_offset)
    too_big = [name for name in chosen if members[name].file_size > max_member_bytes]
    if too_big:
        raise DownloadError(f"{where}: members larger than {max_member_bytes} bytes: {too_big[:5]}")
    if chosen:
        folder = targets[chosen[0]].parent
        folder.mkdir(parents=True, exist_ok=True)
        check_free_space(folder, sum(members[name].file_size for name in chosen), where)
    with tqdm(total=sum(members[name].compress_size for name in chosen), unit="B",
              unit_scale=True, unit_divisor=1024, desc=where,
              disable=None if progress else True) as bar:
        for name in chosen:
            info, target = members[name], targets[name]
            if reader is not None:
                reader.prefetch(
                    info.header_offset,
                    zipfile.sizeFileHeader + len(info.filename.encode()) + len(info.extra)
                    + info.compress_size + MEMBER_SLACK_BYTES,
                )
            part = target.with_name(target.name + ".part")
            try:
                with archive.open(info) as source, part.open("wb") as out:
                    shutil.copyfileobj(source, out, 2**20)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
                part.unlink(missing_ok=True)
                raise DownloadError(f"{where}: member {info.filename} is corrupt ({error}).") \
                    from error
            os.replace(part, target)
            bar.update(info.compress_size)


def check_free_space(folder: Path, needed: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DownloadError(
            f"Not enough free disk space in {folder} for {what}: {needed / 2**20:,.1f} MiB "
            f"needed, {free / 2**20:,.1f} MiB free."
        )
