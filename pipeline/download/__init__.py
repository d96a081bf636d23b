"""Fetching dataset files: mirror first, then HTTP(S) with resume, retries and checksums."""

from pipeline.download.archive import extract_archive
from pipeline.download.fetch import fetch
from pipeline.download.source import Source

__all__ = ["Source", "extract_archive", "fetch"]
