"""What a dataset declares about each file it downloads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One file of a dataset.

    ``filename`` is its name in the download folder and in a mirror (``<mirror>/<dataset>/
    <filename>``). ``sha256``/``md5`` are the official checksums where they are known;
    ``size`` is the expected byte count (used for progress and free-space checks).
    ``extract`` unpacks the verified archive into the download folder (safely).
    """

    dataset: str
    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    extract: bool = False
