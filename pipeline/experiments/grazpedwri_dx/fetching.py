"""Getting the article's files: figshare's file list (ids confirmed, sizes, md5), and the
requested images into a cache folder from wherever they are cheapest to get."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from pipeline.core.errors import DownloadError
from pipeline.download.fetch import fetch
from pipeline.experiments.grazpedwri_dx.figshare import FigshareFile, confirm_files, list_files
from pipeline.experiments.grazpedwri_dx.layout import IMAGES
from pipeline.experiments.grazpedwri_dx.params import DownloadParams, archive_names
from pipeline.experiments.grazpedwri_dx.remote_zip import (
    extract_members,
    members_by_basename,
    open_zip,
)

MIRROR_FOLDER = "grazpedwri-dx"  # <mirror>/grazpedwri-dx/dataset.csv, as in ../shared/datasets


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


class ImageFetcher:
    """Gets the requested images into a cache folder: already cached, else from a local
    mirror's ``images/`` folder, else from the archives (a local mirror's or figshare's):
    whole archives (resumable) when every image is wanted, range requests for a subset."""

    def __init__(self, params: DownloadParams, cache: Path, mirror: str | None) -> None:
        self.params = params
        self.cache = cache
        self.images = cache / IMAGES
        self.mirror = mirror
        self.report: dict[str, Any] = {"range_bytes": 0, "range_requests": 0}

    def fetch(self, stems: Sequence[str]) -> list[str]:
        """Fetch what is not cached yet; return the stems found nowhere."""
        self.images.mkdir(parents=True, exist_ok=True)
        names = {f"{stem}.png": stem for stem in stems}
        todo = {name for name in names if not (self.images / name).is_file()}
        self.report.update(requested=len(names), already_cached=len(names) - len(todo))
        mirror = local_mirror(self.mirror)
        from_mirror = {name for name in todo
                       if mirror is not None and (mirror / IMAGES / name).is_file()}
        for name in sorted(from_mirror):
            shutil.copyfile(mirror / IMAGES / name, self.images / name)  # type: ignore[operator]
        todo -= from_mirror
        self.report["from_mirror_folder"] = len(from_mirror)
        if todo:
            try:
                files = figshare_files(self.params)
            except DownloadError as error:
                raise DownloadError(
                    f"{len(todo)} requested images are neither cached in {self.images} nor in "
                    f"the mirror, and figshare's file list is unavailable: {error}"
                ) from error
            for name in archive_names(self.params.files):
                if not todo:
                    break
                todo -= self._from_archive(files[name], todo, mirror)
        missing = sorted(names[name] for name in todo)
        self.report["not_in_archives"] = len(missing)
        return missing

    def _from_archive(self, file: FigshareFile, wanted: set[str], mirror: Path | None
                      ) -> set[str]:
        """Extract the wanted members this archive holds; return their names."""
        local = mirror / file.name if mirror is not None else None
        if self.params.images is None:
            location = fetch(file.source(MIRROR_FOLDER), self.cache, mirror=self.mirror)
        else:
            location = local if local is not None and local.is_file() else file.url
        with open_zip(location, expected_size=file.size) as (archive, reader):
            members = members_by_basename(archive, file.name)
            found = wanted & set(members)
            extract_members(archive, members, {name: self.images / name for name in found},
                            where=file.name, reader=reader)
            if reader is not None:
                self.report["range_bytes"] += reader.bytes_received
                self.report["range_requests"] += reader.requests
                self.report["archive_bytes"] = self.report.get("archive_bytes", 0) + file.size
                self.report["member_bytes"] = self.report.get("member_bytes", 0) + sum(
                    members[name].compress_size for name in found)
        if self.params.images is None and Path(location).parent == self.cache:
            Path(location).unlink()  # every member is extracted: free the space
        return found
