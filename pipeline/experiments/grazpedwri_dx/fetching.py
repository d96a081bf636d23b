"""Getting the article's files: figshare's file list (ids confirmed, sizes, md5), and the
requested images into the stage's output from wherever they are cheapest to get.

Images in a local mirror's ``grazpedwri-dx/images/`` folder are copied into the output as they
are, every run, and never cached: fixing the mirror fixes the next run. Images extracted from
the archives are cached in ``.cache/downloads/grazpedwri_dx/images/`` (outside DVC), keyed by
where they came from: ``images.json`` beside that folder records, for each, the archive it was
extracted from and the member's CRC-32. A cached image is reused only while the archive it is
wanted from (the first that holds it) lists it with that CRC-32 and the file itself still has
it; otherwise it is deleted and extracted again, with a warning naming it. Every run therefore
reads each archive's central directory (for a remote archive, a range request or two), even
when everything is cached. The record is written (atomically) before the members are
extracted, and a member takes its name only once its CRC-32 matched, so an interrupted run
leaves no cached file that a rerun cannot check.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from pipeline.core.errors import DownloadError
from pipeline.core.outputs import write_json_atomic
from pipeline.download.fetch import fetch
from pipeline.experiments.grazpedwri_dx.figshare import FigshareFile, confirm_files, list_files
from pipeline.experiments.grazpedwri_dx.layout import IMAGES
from pipeline.experiments.grazpedwri_dx.params import DownloadParams, archive_names
from pipeline.experiments.grazpedwri_dx.remote_zip import (
    HttpRangeFile,
    extract_members,
    members_by_basename,
    open_zip,
)

log = logging.getLogger(__name__)

MIRROR_FOLDER = "grazpedwri-dx"  # <mirror>/grazpedwri-dx/dataset.csv, as in ../shared/datasets
RECORD_FILE = "images.json"  # beside images/: {name: {"archive": ..., "crc32": ...}}


@functools.cache
def _figshare_files(api_url: str, article_id: int, expected: tuple[tuple[str, int], ...]
                    ) -> dict[str, FigshareFile]:
    return confirm_files(list_files(article_id, api_url=api_url), dict(expected),
                         article_id=article_id)


def figshare_files(params: DownloadParams) -> dict[str, FigshareFile]:
    """The article's files (ids confirmed, sizes, md5), asked once per process."""
    return _figshare_files(params.api_url, params.article_id, tuple(sorted(params.files.items())))


def local_mirror(mirror: str | None) -> Path | None:
    """The mirror's dataset folder when the mirror is a local directory."""
    if mirror is None or urlparse(mirror).scheme not in ("", "file"):
        return None
    root = Path(url2pathname(urlparse(mirror).path)) if mirror.startswith("file:") else Path(mirror)
    return root / MIRROR_FOLDER


def file_crc32(path: Path) -> int:
    """A file's CRC-32, as a zip archive's directory records it for a member."""
    crc = 0
    with path.open("rb") as stream:
        while chunk := stream.read(2**20):
            crc = zlib.crc32(chunk, crc)
    return crc


class ImageFetcher:
    """Puts the requested images into a folder: from a local mirror's ``images/`` folder, else
    out of the archives (a local mirror's or figshare's), through the verified cache: whole
    archives (resumable) when every image is wanted, range requests for a subset."""

    def __init__(self, params: DownloadParams, cache: Path, mirror: str | None) -> None:
        self.params = params
        self.cache = cache
        self.images = cache / IMAGES
        self.record_file = cache / RECORD_FILE
        self.mirror = mirror
        self.report: dict[str, Any] = dict.fromkeys(
            ("already_cached", "cache_replaced", "range_bytes", "range_requests",
             "archive_bytes", "member_bytes"), 0)
        self._records = self._read_records()

    def fetch(self, stems: Sequence[str], target: Path) -> list[str]:
        """Put the requested images into ``target``; return the stems found nowhere."""
        target.mkdir(parents=True, exist_ok=True)
        names = {f"{stem}.png": stem for stem in stems}
        mirror = local_mirror(self.mirror)
        from_mirror = {name for name in names
                       if mirror is not None and (mirror / IMAGES / name).is_file()}
        for name in sorted(from_mirror):
            shutil.copyfile(mirror / IMAGES / name, target / name)  # type: ignore[operator]
        todo = set(names) - from_mirror
        self.report.update(requested=len(names), from_mirror_folder=len(from_mirror))
        if todo:
            try:
                files = figshare_files(self.params)
            except DownloadError as error:
                raise DownloadError(
                    f"{len(todo)} requested images are in no local mirror's images folder, and "
                    "figshare's file list is unavailable, so the archives cannot be read (the "
                    f"copies cached in {self.images} are reused only once checked against "
                    f"them): {error}"
                ) from error
            for name in archive_names(self.params.files):
                if not todo:
                    break
                found = self._from_archive(files[name], todo, mirror)
                for image in sorted(found):
                    _link_or_copy(self.images / image, target / image)
                todo -= found
        missing = sorted(names[name] for name in todo)
        self.report["not_in_archives"] = len(missing)
        return missing

    def _from_archive(self, file: FigshareFile, wanted: set[str], mirror: Path | None
                      ) -> set[str]:
        """Get the wanted members this archive holds into the cache (cached copies that
        still match it, the others extracted); return their names."""
        whole = self.params.images is None
        if whole and not any((self.images / name).is_file() for name in wanted):
            return self._from_whole_archive(file, wanted)  # nothing cached to check
        local = mirror / file.name if mirror is not None else None
        location = local if local is not None and local.is_file() else file.url
        try:
            with open_zip(location, expected_size=file.size) as (archive, reader):
                members = members_by_basename(archive, file.name)
                found = wanted & set(members)
                stale = self._stale(file.name, members, found)
                if not whole:
                    self._extract(archive, members, stale, file.name, reader)
                self._count(file, reader)
        except DownloadError as error:
            if not whole:
                raise
            log.warning("%s: %s Downloading it whole to check the cached images in %s.",
                        file.name, error, self.images)
            return self._from_whole_archive(file, wanted)
        if whole and stale:
            self._from_whole_archive(file, stale)
        return found

    def _from_whole_archive(self, file: FigshareFile, wanted: set[str]) -> set[str]:
        """Download the archive whole (verified by figshare's md5), extract what it holds of
        ``wanted`` and is not validly cached, delete the download; return the names it holds."""
        location = fetch(file.source(MIRROR_FOLDER), self.cache, mirror=self.mirror)
        with open_zip(location) as (archive, _):
            members = members_by_basename(archive, file.name)
            found = wanted & set(members)
            self._extract(archive, members, self._stale(file.name, members, found), file.name,
                          None)
        if location.parent == self.cache:
            location.unlink()  # every wanted member is extracted: free the space
        return found

    def _stale(self, archive: str, members: Mapping[str, zipfile.ZipInfo], found: set[str]
               ) -> set[str]:
        """The names in ``found`` that need extracting: not cached, or cached copies that do
        not match the record of this archive's member (those are deleted)."""
        stale = set()
        for name in sorted(found):
            path = self.images / name
            if not path.is_file():
                stale.add(name)
                continue
            why = self._mismatch(path, archive, members[name])
            if why is None:
                self.report["already_cached"] += 1
                continue
            log.warning("The cached image %s is not reused: %s. Extracting it again from %s.",
                        path, why, archive)
            path.unlink()
            stale.add(name)
            self.report["cache_replaced"] += 1
        return stale

    def _mismatch(self, path: Path, archive: str, member: zipfile.ZipInfo) -> str | None:
        """Why the cached ``path`` is not ``archive``'s ``member``; None when it is."""
        record = self._records.get(path.name)
        if record is None:
            return f"{self.record_file} does not say which archive member it was extracted from"
        if record["archive"] != archive:
            return f"it was extracted from {record['archive']}, but is now wanted from {archive}"
        if record["crc32"] != member.CRC:
            return (f"{archive} now lists {member.filename} with CRC-32 {member.CRC:08x}, not "
                    f"{record['crc32']:08x} as when it was extracted")
        crc = file_crc32(path)
        if crc != member.CRC:
            return (f"its CRC-32 is {crc:08x}, not {member.CRC:08x}: the file changed after "
                    "it was extracted")
        return None

    def _extract(self, archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo],
                 names: set[str], where: str, reader: HttpRangeFile | None) -> None:
        """Record, then extract ``names`` from ``archive`` into the cache."""
        if not names:
            return
        self._records.update({name: {"archive": where, "crc32": members[name].CRC}
                              for name in names})
        write_json_atomic(self.record_file, self._records)
        extract_members(archive, members, {name: self.images / name for name in names},
                        where=where, reader=reader)
        if reader is not None:
            self.report["member_bytes"] += sum(members[name].compress_size for name in names)

    def _count(self, file: FigshareFile, reader: HttpRangeFile | None) -> None:
        """What reading an archive by range requests cost."""
        if reader is not None:
            self.report["range_bytes"] += reader.bytes_received
            self.report["range_requests"] += reader.requests
            self.report["archive_bytes"] += file.size

    def _read_records(self) -> dict[str, dict[str, Any]]:
        """Which archive member each cached image was extracted from; an unreadable record
        counts as none (every cached image is then extracted again)."""
        if not self.record_file.is_file():
            return {}
        try:
            records = json.loads(self.record_file.read_text())
            return {str(name): {"archive": str(record["archive"]),
                                "crc32": int(record["crc32"])}
                    for name, record in records.items()}
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            log.warning("%s is unreadable (%s): the cached images in %s are extracted again.",
                        self.record_file, error, self.images)
            return {}


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
