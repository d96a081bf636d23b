"""Safe extraction of downloaded zip and tar archives.

Archives from the internet are untrusted: members may try to escape the target folder
(absolute paths, ``..``, links) or decompress to far more than they declare (an archive bomb:
a small zip of 512 MiB of zeros). Names, counts and declared sizes are checked before anything
is written; sizes are counted again while writing (a member whose header lies is stopped at
the limit); the members only move into place once the whole archive was extracted. The limits:
members, bytes per member, total bytes, and total bytes relative to the archive's size.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO

from pipeline.core.errors import DownloadError

_CHUNK_BYTES = 2**20
_ZIP_FILE_TYPE_MASK = 0o170000
_ZIP_REGULAR_OR_UNSET = (0, 0o100000, 0o040000)


@dataclass(frozen=True)
class _Member:
    name: str
    size: int
    is_dir: bool
    is_special: bool  # a link, device or fifo: never extracted
    open: Callable[[], IO[bytes]]


@dataclass(frozen=True)
class Limits:
    """What an extraction may write. The defaults fit every archive the pipeline reads (the
    largest, GRAZPEDWRI-DX's image parts, are about 4 GB of PNGs that do not compress)."""

    members: int = 100_000
    member_bytes: int = 8 * 2**30
    total_bytes: int = 20 * 2**30
    ratio: float = 100.0  # total uncompressed bytes per byte of archive

    def budget(self, archive: Path) -> tuple[int, str]:
        """The most bytes ``archive`` may expand to, and which limit sets it."""
        by_ratio = int(self.ratio * max(archive.stat().st_size, 1))
        if by_ratio < self.total_bytes:
            return by_ratio, f"{self.ratio:g} times the archive's {archive.stat().st_size} bytes"
        return self.total_bytes, f"{self.total_bytes} bytes in all"


def extract_archive(archive: Path, dest_dir: Path, *, limits: Limits = Limits()) -> list[Path]:
    """Extract a .zip, .tar or compressed .tar into ``dest_dir``; return the extracted files.

    Raises DownloadError, leaving ``dest_dir`` untouched, for an unreadable archive, a member
    that would land outside ``dest_dir`` or is a link or device, or any of ``limits`` passed.
    Scratch work happens beside ``dest_dir`` (the caller's output), never beside ``archive``,
    which may sit in a read-only mirror.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.extract-", dir=dest_dir.parent))
    try:
        with _members(archive) as members:
            planned = _plan(archive, members, limits)
            _write_members(archive, planned, staging, limits)
        return _move_into_place(staging, dest_dir, planned)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError) as exc:
        raise DownloadError(f"Cannot extract {archive}: it is corrupt ({exc}).") from exc
    except OSError as exc:  # a full disk, a member clashing with an existing folder...
        raise DownloadError(f"Cannot extract {archive} into {dest_dir}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refusal(archive: Path, member: str, why: str) -> DownloadError:
    return DownloadError(f"Refusing to extract {archive}: member {member!r} {why}.")


@contextmanager
def _members(archive: Path) -> Iterator[Iterator[_Member]]:
    """The archive's members, whatever its format (detected from the content)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zip_file:
            yield (_zip_member(zip_file, info) for info in zip_file.infolist())
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar_file:
            yield (_tar_member(tar_file, info) for info in tar_file)
    else:
        raise DownloadError(f"Cannot extract {archive}: it is neither a zip nor a tar archive.")


def _zip_member(zip_file: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    file_type = (info.external_attr >> 16) & _ZIP_FILE_TYPE_MASK  # Unix mode, if recorded
    return _Member(
        name=info.filename,
        size=info.file_size,
        is_dir=info.is_dir(),
        is_special=file_type not in _ZIP_REGULAR_OR_UNSET,
        open=lambda: zip_file.open(info),
    )


def _tar_member(tar_file: tarfile.TarFile, info: tarfile.TarInfo) -> _Member:
    def open_member() -> IO[bytes]:
        stream = tar_file.extractfile(info)
        assert stream is not None  # regular files always have a stream
        return stream

    return _Member(
        name=info.name,
        size=info.size,
        is_dir=info.isdir(),
        is_special=not (info.isfile() or info.isdir()),
        open=open_member,
    )


def _plan(archive: Path, members: Iterator[_Member], limits: Limits
          ) -> dict[PurePosixPath, _Member]:
    """Check every member up front; return them by safe relative path (the last one wins,
    as with tar's own extraction)."""
    planned: dict[PurePosixPath, _Member] = {}
    declared = 0
    budget, why = limits.budget(archive)
    for count, member in enumerate(members, start=1):
        if count > limits.members:
            raise _refusal(archive, member.name, f"exceeds the limit of {limits.members} members")
        if member.is_special:
            raise _refusal(archive, member.name, "is a link or device file")
        if member.size > limits.member_bytes:
            raise _refusal(archive, member.name, f"declares {member.size} bytes, beyond the "
                           f"limit of {limits.member_bytes} bytes per member")
        declared += member.size
        if declared > budget:
            raise _refusal(archive, member.name, f"takes the declared total to {declared} "
                           f"bytes, beyond the limit of {why}")
        relative = _safe_relative_path(archive, member.name)
        if relative is not None:
            planned[relative] = member
    return planned


def _safe_relative_path(archive: Path, name: str) -> PurePosixPath | None:
    """The member's path inside the target folder (None for the folder itself).

    Both separators count, so a Windows-made ``..\\evil`` or ``C:\\evil`` is caught too.
    """
    path = PureWindowsPath(name)
    if path.drive or path.root:
        raise _refusal(archive, name, "has an absolute path")
    if ".." in path.parts:
        raise _refusal(archive, name, "has a '..' component")
    return PurePosixPath(*path.parts) if path.parts else None


def _write_members(archive: Path, planned: dict[PurePosixPath, _Member], staging: Path,
                   limits: Limits) -> None:
    """Write the members below ``staging``, counting the bytes: declared sizes can lie."""
    budget, why = limits.budget(archive)
    left = budget
    for relative, member in planned.items():
        target = staging / relative
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with member.open() as source, target.open("wb") as out:
            while chunk := source.read(_CHUNK_BYTES):
                written += len(chunk)
                left -= len(chunk)
                if written > limits.member_bytes:
                    raise _refusal(archive, member.name, f"decompresses beyond the limit of "
                                   f"{limits.member_bytes} bytes per member")
                if left < 0:
                    raise _refusal(archive, member.name, f"takes the total beyond the limit "
                                   f"of {why} (it decompresses to more than it declares)"
                                   if written > member.size else
                                   f"takes the total beyond the limit of {why}")
                out.write(chunk)


def _move_into_place(
    staging: Path, dest_dir: Path, planned: dict[PurePosixPath, _Member]
) -> list[Path]:
    extracted = []
    for relative, member in planned.items():
        target = dest_dir / relative
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / relative, target)
        extracted.append(target)
    return extracted
