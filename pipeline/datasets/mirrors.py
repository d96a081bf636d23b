"""Where a dataset's files sit in a local mirror."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pipeline.download.fetch import local_path


def local_folder(mirror: str | None, dataset: str) -> Path | None:
    """``<mirror>/<dataset>`` when the mirror is a folder or ``file://`` URL; None for no
    mirror or an HTTP one (which only serves the official files, by name)."""
    if mirror is None or urlparse(mirror).scheme in ("http", "https"):
        return None
    return local_path(mirror) / dataset
