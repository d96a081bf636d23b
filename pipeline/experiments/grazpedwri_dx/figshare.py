"""figshare's public API: which files an article holds, with their ids, sizes and md5 sums.

An experiment pins the file ids it expects (from the article's page); :func:`confirm_files`
checks them against what the API lists, so a re-uploaded or renamed file is noticed before
gigabytes are downloaded, and the API's sizes and md5 sums verify what is downloaded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from pipeline.core.errors import DownloadError
from pipeline.download.source import Source

log = logging.getLogger(__name__)

PAGE_SIZE = 100


class FigshareUnavailable(DownloadError):
    """The API could not be reached or did not answer with a file list."""


@dataclass(frozen=True)
class FigshareFile:
    id: int
    name: str
    size: int
    md5: str | None
    url: str

    def source(self, dataset: str, *, extract: bool = False) -> Source:
        """A :class:`Source` verified by figshare's size and md5."""
        return Source(dataset, self.url, self.name, md5=self.md5, size=self.size, extract=extract)


def download_url(file_id: int) -> str:
    """figshare's download address of a file (it redirects to the storage holding it)."""
    return f"https://ndownloader.figshare.com/files/{file_id}"


def list_files(
    article_id: int, *, api_url: str, timeout_seconds: float = 30.0
) -> list[FigshareFile]:
    """Every file of a public article, as the API at ``api_url`` (``https://api.figshare.com/v2``)
    lists it (all pages)."""
    files: list[FigshareFile] = []
    page = 1
    while True:
        url = f"{api_url.rstrip('/')}/articles/{article_id}/files"
        try:
            response = requests.get(
                url, params={"page": page, "page_size": PAGE_SIZE}, timeout=timeout_seconds
            )
        except requests.RequestException as error:
            raise FigshareUnavailable(
                f"Could not reach the figshare API at {url}: {type(error).__name__}."
            ) from error
        if response.status_code != 200:
            raise FigshareUnavailable(
                f"The figshare API answered HTTP {response.status_code} for {response.url}."
            )
        try:
            items = response.json()
        except ValueError as error:
            raise FigshareUnavailable(f"The figshare API sent no JSON for {url}.") from error
        if not isinstance(items, list):
            raise FigshareUnavailable(
                f"{url}: expected a JSON list of files, got {type(items).__name__}"
            )
        files.extend(_parse_file(item, url) for item in items)
        if len(items) < PAGE_SIZE:
            return files
        page += 1


def _parse_file(item: Any, url: str) -> FigshareFile:
    try:
        return FigshareFile(
            id=int(item["id"]),
            name=str(item["name"]),
            size=int(item["size"]),
            md5=str(item.get("computed_md5") or item.get("supplied_md5") or "") or None,
            url=str(item.get("download_url") or download_url(int(item["id"]))),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise DownloadError(f"{url}: a file entry lacks id, name or size: {item!r}") from error


def confirm_files(
    files: Sequence[FigshareFile], expected: Mapping[str, int], *, article_id: int
) -> dict[str, FigshareFile]:
    """The listed files by name, after checking that each expected name has the expected id."""
    by_name = {file.name: file for file in files}
    problems = []
    for name, file_id in expected.items():
        found = by_name.get(name)
        if found is None:
            problems.append(f"{name} (id {file_id}) is not listed")
        elif found.id != file_id:
            problems.append(f"{name} has id {found.id}, expected {file_id}")
    if problems:
        listed = ", ".join(f"{file.name} ({file.id})" for file in files) or "nothing"
        raise DownloadError(
            f"figshare article {article_id} does not hold the expected files: "
            + "; ".join(problems)
            + f". It lists: {listed}. If the article was updated, update the file ids in params."
        )
    return {name: by_name[name] for name in expected}
