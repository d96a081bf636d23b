"""One HTTP(S) file onto disk: streamed with a progress bar, resumed from a partial file
(HTTP Range) after an interruption, in this run or a later one, and retried with backoff."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.exceptions import ChunkedEncodingError
from tqdm import tqdm

log = logging.getLogger(__name__)

CHUNK_BYTES = 2**20
_RETRIED_CLIENT_ERRORS = frozenset({408, 429})


class TransferFailure(Exception):
    """A request that did not deliver the file; ``transient`` failures are worth retrying."""

    def __init__(self, cause: str, *, transient: bool) -> None:
        super().__init__(cause)
        self.cause = cause
        self.transient = transient


@dataclass(frozen=True)
class Retries:
    """How hard to try: ``attempts`` after the first, waiting ``backoff_seconds * 2**n``."""

    attempts: int = 4
    backoff_seconds: float = 1.0
    timeout_seconds: float = 30.0
    progress: bool = True


def download(url: str, part: Path, retries: Retries, *, needed_bytes: int | None = None) -> None:
    """Make ``part`` hold the whole body of ``url``, continuing after the bytes it already
    holds. Raises :class:`TransferFailure` when the server refuses or every retry failed.
    The body is not verified here: a server that omits Content-Length and closes early
    delivers a short file that only the caller's checksum or content check can catch."""
    part.parent.mkdir(parents=True, exist_ok=True)
    check_free_space(part.parent, needed_bytes, part)
    for attempt in range(retries.attempts + 1):
        try:
            _transfer(url, part, retries)
            return
        except TransferFailure as failure:
            if not failure.transient or attempt == retries.attempts:
                raise
            delay = retries.backoff_seconds * 2**attempt
            log.warning("downloading %s failed (%s); retry %d of %d in %.2f s", url,
                        failure.cause, attempt + 1, retries.attempts, delay)
            time.sleep(delay)


def _transfer(url: str, part: Path, retries: Retries) -> None:
    offset = part.stat().st_size if part.exists() else 0
    # identity: the bytes on disk (and Range offsets) must be the file's, not a decoded body
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        with requests.get(url, headers=headers, stream=True,
                          timeout=retries.timeout_seconds) as response:
            if response.status_code == 416 and offset:
                _unsatisfiable_range(response, part, offset)
                return
            _raise_for_status(response)
            if response.status_code != 206:  # the server ignored Range: it sends everything
                offset = 0
            _write_body(response, part, offset, retries.progress)
    except (requests.ConnectionError, requests.Timeout, ChunkedEncodingError) as exc:
        raise TransferFailure(_describe(exc), transient=True) from exc
    except requests.RequestException as exc:  # a malformed URL, too many redirects...
        raise TransferFailure(_describe(exc), transient=False) from exc


def _unsatisfiable_range(response: requests.Response, part: Path, offset: int) -> None:
    """416: the partial file is either complete already or does not fit the server's file."""
    total = response.headers.get("Content-Range", "").rpartition("/")[2]
    if total == str(offset):
        return  # complete; the caller verifies it
    part.unlink()
    raise TransferFailure("HTTP 416: the partial file does not fit; restarting", transient=True)


def _raise_for_status(response: requests.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    cause = f"HTTP {status} {response.reason}".rstrip()
    raise TransferFailure(cause, transient=status >= 500 or status in _RETRIED_CLIENT_ERRORS)


def _write_body(response: requests.Response, part: Path, offset: int, progress: bool) -> None:
    length = response.headers.get("Content-Length", "")
    total = offset + int(length) if length.isdigit() else None
    with (
        part.open("ab" if offset else "wb") as out,
        tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
             desc=part.name.removesuffix(".part"), disable=None if progress else True) as bar,
    ):
        for chunk in response.iter_content(CHUNK_BYTES):
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


def check_free_space(folder: Path, size: int | None, target: Path) -> None:
    """Refuse up front when ``folder`` has no room for the rest of ``target``."""
    if size is None:
        return
    needed = size - (target.stat().st_size if target.exists() else 0)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise TransferFailure(
            f"not enough free disk space in {folder}: {needed / 2**20:,.1f} MiB needed, "
            f"{free / 2**20:,.1f} MiB free", transient=False)
