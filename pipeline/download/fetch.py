"""Fetch one source file: an existing verified copy, else a mirror, else the network.

A file only ever gets its final name after it was verified (``os.replace`` of a temporary
sibling), so a partial or corrupt download never looks like a finished one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import requests
from requests.exceptions import ChunkedEncodingError
from tqdm import tqdm

from pipeline.download.archive import extract_archive
from pipeline.download.source import Source
from pipeline.errors import DownloadError

log = logging.getLogger(__name__)

_CHUNK_BYTES = 2**20
_RETRIED_CLIENT_ERRORS = frozenset({408, 429})

ContentCheck = Callable[[Path], bool]


class _HttpFailure(Exception):
    """A request that did not deliver the file; ``transient`` failures are worth retrying."""

    def __init__(self, cause: str, *, transient: bool) -> None:
        super().__init__(cause)
        self.cause = cause
        self.transient = transient


def fetch(
    source: Source,
    dest_dir: Path,
    *,
    mirror: str | None = None,
    content_check: ContentCheck | None = None,
    retries: int = 4,
    backoff_seconds: float = 1.0,
    timeout_seconds: float = 30.0,
    progress: bool = True,
) -> Path:
    """Make ``dest_dir / source.filename`` hold the verified file and return that path.

    ``mirror`` (a directory, ``file://`` URL or ``http(s)://`` prefix holding
    ``<dataset>/<filename>``) is tried before ``source.url``. ``content_check`` accepts a copy
    whose bytes differ from the declared checksum but whose decoded content is the same.
    Transient network failures are retried ``retries`` times, waiting
    ``backoff_seconds * 2**attempt`` and resuming the partial file each time.
    """
    dest_dir = Path(dest_dir)
    final = dest_dir / source.filename
    final.parent.mkdir(parents=True, exist_ok=True)
    if not _existing_copy_ok(final, source, content_check):
        fetched_from_mirror = mirror is not None and _from_mirror(
            mirror, source, final, content_check, timeout_seconds, progress
        )
        if not fetched_from_mirror:
            _download(source, final, retries, backoff_seconds, timeout_seconds, progress)
    if source.extract:
        extract_archive(final, dest_dir)
    return final


# -- verification ---------------------------------------------------------------------------


def _expected_digest(source: Source) -> tuple[str, str] | None:
    """The strongest declared checksum as ``(algorithm, hex digest)``."""
    if source.sha256:
        return "sha256", source.sha256.lower()
    if source.md5:
        return "md5", source.md5.lower()
    return None


def _mismatch(path: Path, source: Source) -> str | None:
    """How ``path`` differs from the declared size and checksum; None when it matches both."""
    size = path.stat().st_size
    if source.size is not None and size != source.size:
        return f"expected {source.size} bytes, got {size}"
    expected = _expected_digest(source)
    if expected is None:
        return None
    algorithm, want = expected
    digest = hashlib.new(algorithm)
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    got = digest.hexdigest()
    return None if got == want else f"expected {algorithm} {want}, got {got}"


def _rejection(
    path: Path, source: Source, content_check: ContentCheck | None, *, trust_unchecked: bool
) -> str | None:
    """Why ``path`` does not hold the source; None when it has the declared bytes or, by
    ``content_check``, the same content. Without a declared checksum, matching the size alone
    is enough only if ``trust_unchecked``."""
    problem = _mismatch(path, source)
    if problem is None and not trust_unchecked and _expected_digest(source) is None:
        problem = "no checksum is known"
    if problem is None or (content_check is not None and content_check(path)):
        return None
    return problem if content_check is None else f"{problem}, and its content differs"


def _existing_copy_ok(final: Path, source: Source, content_check: ContentCheck | None) -> bool:
    """Whether an earlier run already left the verified file (then nothing is fetched)."""
    if not final.is_file():
        return False
    # Only verified files get the final name, so one without a checksum is trusted.
    problem = _rejection(final, source, content_check, trust_unchecked=True)
    if problem is None:
        log.info("%s is already present and verified", final)
        return True
    log.warning("%s is not the expected file (%s); fetching it again", final, problem)
    final.unlink()
    return False


# -- mirror -----------------------------------------------------------------------------------


def _from_mirror(
    mirror: str,
    source: Source,
    final: Path,
    content_check: ContentCheck | None,
    timeout_seconds: float,
    progress: bool,
) -> bool:
    """Put the mirror's copy at ``final`` if it holds the source's content; whether it did."""
    candidate = final.with_name(final.name + ".mirror.part")
    try:
        copy = _mirror_copy(mirror, source, candidate, timeout_seconds, progress)
        if copy is None:
            return False
        # Without a checksum the mirror is as trustworthy as the network, unless the
        # dataset can say more by looking at the content.
        problem = _rejection(copy, source, content_check, trust_unchecked=content_check is None)
        if problem is not None:
            log.warning("Ignoring mirror copy %s (%s); trying %s", copy, problem, source.url)
            return False
        if copy != candidate:
            shutil.copyfile(copy, candidate)
        os.replace(candidate, final)
        log.info("Fetched %s from the mirror %s", source.filename, mirror)
        return True
    finally:
        candidate.unlink(missing_ok=True)


def _mirror_copy(
    mirror: str, source: Source, candidate: Path, timeout_seconds: float, progress: bool
) -> Path | None:
    """The mirror's file for ``source`` (downloaded to ``candidate`` for an HTTP mirror)."""
    relative = f"{source.dataset}/{source.filename}"
    scheme = urlparse(mirror).scheme
    if scheme in ("http", "https"):
        url = f"{mirror.rstrip('/')}/{relative}"
        candidate.unlink(missing_ok=True)
        try:
            _transfer(url, candidate, timeout_seconds, progress)
        except _HttpFailure as failure:
            level = logging.INFO if failure.cause.startswith("HTTP 404") else logging.WARNING
            log.log(level, "Mirror has no usable %s (%s); trying %s", url, failure, source.url)
            return None
        return candidate
    root = Path(url2pathname(urlparse(mirror).path)) if scheme == "file" else Path(mirror)
    path = root / relative
    if not path.is_file():
        log.info("Mirror has no %s; trying %s", path, source.url)
        return None
    return path


# -- network ----------------------------------------------------------------------------------


def _download(
    source: Source,
    final: Path,
    retries: int,
    backoff_seconds: float,
    timeout_seconds: float,
    progress: bool,
) -> None:
    """Download ``source.url`` into ``<final>.part``, verify it, then rename it to ``final``."""
    part = final.with_name(final.name + ".part")
    _check_free_space(source, part)
    for attempt in range(retries + 1):
        try:
            _transfer(source.url, part, timeout_seconds, progress)
            break
        except _HttpFailure as failure:
            if not failure.transient or attempt == retries:
                raise _unreachable_error(source, failure.cause) from failure
            delay = backoff_seconds * 2**attempt
            log.warning(
                "Downloading %s failed (%s); retry %d of %d in %.2f s",
                source.url,
                failure.cause,
                attempt + 1,
                retries,
                delay,
            )
            time.sleep(delay)
    problem = _mismatch(part, source)
    if problem is not None:
        part.unlink()
        raise DownloadError(
            f"The file downloaded from {source.url} is not the expected one: {problem}. "
            "It was deleted; run again to retry. If this repeats, the file changed upstream."
        )
    os.replace(part, final)


def _transfer(url: str, part: Path, timeout_seconds: float, progress: bool) -> None:
    """Stream ``url`` into ``part``, continuing after the bytes ``part`` already holds."""
    offset = part.stat().st_size if part.exists() else 0
    # identity: the bytes on disk (and Range offsets) must be the file's, not a decoded body
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        with requests.get(url, headers=headers, stream=True, timeout=timeout_seconds) as response:
            if response.status_code == 416 and offset:
                _handle_unsatisfiable_range(response, part, offset)
                return
            _raise_for_status(response)
            if response.status_code != 206:  # the server ignored Range: it sends everything
                offset = 0
            _write_body(response, part, offset, progress)
    except (requests.ConnectionError, requests.Timeout, ChunkedEncodingError) as exc:
        raise _HttpFailure(_describe(exc), transient=True) from exc
    except requests.RequestException as exc:  # a malformed URL, too many redirects...
        raise _HttpFailure(_describe(exc), transient=False) from exc


def _handle_unsatisfiable_range(response: requests.Response, part: Path, offset: int) -> None:
    """416: the part file is either complete already or does not fit the server's file."""
    total = response.headers.get("Content-Range", "").rpartition("/")[2]
    if total == str(offset):
        return  # complete; the caller verifies it
    part.unlink()
    raise _HttpFailure("HTTP 416: the partial file does not fit; restarting", transient=True)


def _raise_for_status(response: requests.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    cause = f"HTTP {status} {response.reason}".rstrip()
    raise _HttpFailure(cause, transient=status >= 500 or status in _RETRIED_CLIENT_ERRORS)


def _write_body(response: requests.Response, part: Path, offset: int, progress: bool) -> None:
    length = response.headers.get("Content-Length", "")
    total = offset + int(length) if length.isdigit() else None
    with (
        part.open("ab" if offset else "wb") as out,
        tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.name.removesuffix(".part"),
            disable=None if progress else True,
        ) as bar,
    ):
        for chunk in response.iter_content(_CHUNK_BYTES):
            out.write(chunk)
            bar.update(len(chunk))


def _describe(exc: requests.RequestException) -> str:
    """A short cause for a failed request, instead of urllib3's nested repr."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    text = str(exc).lower()
    for needle, cause in (
        ("refused", "connection refused"),
        ("resolve", "host name could not be resolved"),
        ("reset", "connection reset"),
        ("incompleteread", "connection closed before the whole file arrived"),
    ):
        if needle in text:
            return cause
    return f"{type(exc).__name__}: {exc}"


def _check_free_space(source: Source, part: Path) -> None:
    if source.size is None:
        return
    needed = source.size - (part.stat().st_size if part.exists() else 0)
    free = shutil.disk_usage(part.parent).free
    if needed > free:
        raise DownloadError(
            f"Not enough free disk space in {part.parent} for {source.filename}: "
            f"{_mib(needed)} needed, {_mib(free)} free."
        )


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def _unreachable_error(source: Source, cause: str) -> DownloadError:
    return DownloadError(
        f"Could not download {source.url}: {cause}.\n"
        "Either set data.mirror in params.yaml to a directory holding "
        f"{source.dataset}/{source.filename}, or run with data.synthetic: true to use "
        "generated stand-in data."
    )
