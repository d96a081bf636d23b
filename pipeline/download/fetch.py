"""Fetch one source file: an existing verified copy, else the mirror, else the network.

Every way in goes through the same steps: a local mirror copy is read where it is (never
written to: a team drive may be read-only); an HTTP mirror and the official URL are downloaded
by :mod:`pipeline.download.http` (retries, resume across interruptions and runs, progress bar)
into a partial file kept in ``partials`` (a cache folder outside the stage's output, keyed by
URL); whatever arrives is verified — by checksum where one is known, else by the source's
content check — and only then given its final name. A file that fails verification is deleted
(a partial one first retried from byte 0, in case it was resumed from a stale start), and the
error lists every place tried, why each failed, and the way out that applies.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from pipeline.core.errors import DataError, DownloadError
from pipeline.download.archive import extract_archive
from pipeline.download.http import CHUNK_BYTES, Retries, TransferFailure, download
from pipeline.download.source import Source

log = logging.getLogger(__name__)

# True when a file holds the source's content; False, or DownloadError/DataError saying why,
# when it does not
ContentCheck = Callable[[Path], bool]


def partial_file(folder: Path, url: str, filename: str) -> Path:
    """Where the partial download of ``url`` waits to be resumed."""
    return folder / f"{filename}.{hashlib.sha256(url.encode()).hexdigest()[:12]}.part"


def fetch(
    source: Source,
    dest_dir: Path,
    *,
    mirror: str | None = None,
    content_check: ContentCheck | None = None,
    partials: Path | None = None,
    retries: int = 4,
    backoff_seconds: float = 1.0,
    timeout_seconds: float = 30.0,
    progress: bool = True,
) -> Path:
    """Make ``dest_dir / source.filename`` hold the verified file and return that path.

    ``mirror`` (a folder, ``file://`` URL or ``http(s)://`` prefix holding
    ``<dataset>/<filename>``) is tried before ``source.url``. A source without a checksum needs
    ``content_check`` (a structural check or fingerprint of the decoded content), which also
    accepts a copy whose bytes differ from the checksum but whose content is the official one
    (another container). Partial downloads wait in ``partials`` (default: ``dest_dir``).
    """
    if not (source.sha256 or source.md5 or content_check):
        raise ValueError(f"{source.dataset}/{source.filename}: a source needs a checksum or a "
                         "content check: nothing unverified is ever accepted")
    dest_dir = Path(dest_dir)
    final = dest_dir / source.filename
    final.parent.mkdir(parents=True, exist_ok=True)
    settings = Retries(retries, backoff_seconds, timeout_seconds, progress)
    if not _existing_copy_ok(final, source, content_check):
        attempts: list[tuple[str, str]] = []
        for location in _locations(mirror, source):
            problem = _fetch_from(location, source, final, content_check,
                                  partials or dest_dir, settings)
            if problem is None:
                break
            attempts.append((location, problem))
            log.warning("%s: %s; %s", location, problem,
                        "trying the next place" if location != source.url else "giving up")
        else:
            raise _failure(source, mirror, attempts)
    if source.extract:
        extract_archive(final, dest_dir)
    return final


# -- where to look ------------------------------------------------------------------------------


def _locations(mirror: str | None, source: Source) -> list[str]:
    """The mirror's copy (a path or URL), then the official URL."""
    if mirror is None:
        return [source.url]
    relative = f"{source.dataset}/{source.filename}"
    if urlparse(mirror).scheme in ("http", "https"):
        return [f"{mirror.rstrip('/')}/{relative}", source.url]
    return [str(local_path(mirror) / relative), source.url]


def local_path(location: str) -> Path:
    """A folder or file named by a path or a ``file://`` URL."""
    parsed = urlparse(location)
    return Path(url2pathname(parsed.path)) if parsed.scheme == "file" else Path(location)


def _fetch_from(location: str, source: Source, final: Path, content_check: ContentCheck | None,
                partials: Path, retries: Retries) -> str | None:
    """Put the verified file from ``location`` at ``final``; None, or why it could not."""
    if urlparse(location).scheme not in ("http", "https"):
        path = Path(location)
        if not path.is_file():
            return "not there"
        problem = _rejection(path, source, content_check)
        if problem is None:
            _copy_into_place(path, final)
        return problem
    part = partial_file(partials, location, source.filename)
    for fresh in (False, True):
        resumed = part.exists() and not fresh
        if fresh:
            part.unlink(missing_ok=True)
        try:
            download(location, part, retries, needed_bytes=source.size)
        except TransferFailure as failure:
            return failure.cause
        problem = _rejection(part, source, content_check)
        if problem is None:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, final)
            return None
        part.unlink()
        if not resumed:
            break
        log.warning("%s: the download resumed from %s is not the file (%s); starting over",
                    location, part, problem)
    return f"{problem}; the download was deleted"


def _copy_into_place(path: Path, final: Path) -> None:
    partial = final.with_name(final.name + ".copy")
    shutil.copyfile(path, partial)
    os.replace(partial, final)


# -- verification ---------------------------------------------------------------------------


def _expected_digest(source: Source) -> tuple[str, str] | None:
    """The strongest declared checksum as ``(algorithm, hex digest)``."""
    if source.sha256:
        return "sha256", source.sha256.lower()
    if source.md5:
        return "md5", source.md5.lower()
    return None


def _mismatch(path: Path, source: Source) -> str | None:
    """How ``path`` differs from the declared size and checksum; None when it matches."""
    size = path.stat().st_size
    if source.size is not None and size != source.size:
        return f"expected {source.size} bytes, got {size}"
    expected = _expected_digest(source)
    if expected is None:
        return None
    algorithm, want = expected
    digest = hashlib.new(algorithm)
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    got = digest.hexdigest()
    return None if got == want else f"expected {algorithm} {want}, got {got}"


def _rejection(path: Path, source: Source, content_check: ContentCheck | None) -> str | None:
    """Why ``path`` does not hold the source; None when it has the declared bytes or, by
    ``content_check``, the official content. A content check says why by raising
    DownloadError or DataError, or just answers False."""
    problem = _mismatch(path, source)
    if problem is None and _expected_digest(source) is not None:
        return None
    if content_check is None:
        return problem
    try:
        if content_check(path):
            return None
        why = "the content check failed: a truncated or different file"
    except (DownloadError, DataError) as error:
        why = str(error)
    if problem is None:
        return f"its content is not the expected one (no checksum is known; {why})"
    return f"{problem}, and its content differs ({why})"


def _existing_copy_ok(final: Path, source: Source, content_check: ContentCheck | None) -> bool:
    """Whether an earlier run already left the verified file (then nothing is fetched)."""
    if not final.is_file():
        return False
    problem = _rejection(final, source, content_check)
    if problem is None:
        log.info("%s is already present and verified", final)
        return True
    log.warning("%s is not the expected file (%s); fetching it again", final, problem)
    final.unlink()
    return False


def _failure(source: Source, mirror: str | None, attempts: list[tuple[str, str]]
             ) -> DownloadError:
    tried = "\n".join(f"  - {location}: {problem}" for location, problem in attempts)
    relative = f"{source.dataset}/{source.filename}"
    if mirror is None:
        way_out = (f"set $PIPELINE_MIRROR to a folder (or URL prefix) holding {relative}, "
                   "or run with data.synthetic: true for generated stand-ins")
    else:
        mirror_copy, problem = attempts[0]
        way_out = (f"put the official {source.filename} at {mirror_copy} (the mirror's copy "
                   f"{'is missing' if problem == 'not there' else 'was rejected'}), or unset "
                   "$PIPELINE_MIRROR to use only the network, or run with data.synthetic: true")
    return DownloadError(f"Could not get {relative}. Tried:\n{tried}\nWay out: {way_out}.")
