"""Writers of the Yale face database as distributed (GIF files under the original zip's names
and quirks, the zip itself), from any faces: the download stage's input, for offline tests."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.experiments.yalefaces.database import (
    CENTERLIGHT_ALIAS,
    DUPLICATE_COPY,
    FOLDER,
    README,
    original_file,
    read_image,
)


def write_gif(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels, mode="L").save(path, format="GIF")


def write_database_folder(folder: Path, faces: Mapping[str, np.ndarray]) -> Path:
    """The extracted ``yalefaces/`` folder: ``faces`` (canonical name -> uint8 pixels) as GIFs
    under the zip's names (``subject01.gif``), the duplicate ``subject01.glasses.gif`` and a
    Readme."""
    folder.mkdir(parents=True)
    for name, pixels in faces.items():
        write_gif(folder / original_file(name), pixels)
    (folder / DUPLICATE_COPY).write_bytes((folder / "subject01.glasses").read_bytes())
    (folder / README).write_text("Stand-in for the Yale face database.\n")
    return folder


def zip_of(folder: Path, path: Path, *, change: str | None = None) -> Path:
    """A zip laid out like the original: yalefaces/..., the duplicate, macOS metadata; with
    ``change``, that file's pixel (100, 100) flipped by one grey level."""
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.iterdir()):
            data = file.read_bytes()
            if file.name == change:
                buffer = path.with_suffix(".gif")
                pixels = read_image(file).copy()
                pixels[100, 100] ^= 1
                write_gif(buffer, pixels)
                data = buffer.read_bytes()
                buffer.unlink()
            archive.writestr(f"{FOLDER}/{file.name}", data)
        if not (folder / DUPLICATE_COPY).exists():
            archive.writestr(f"{FOLDER}/{DUPLICATE_COPY}",
                             (folder / "subject01.glasses").read_bytes())
        archive.writestr(f"__MACOSX/{FOLDER}/._{CENTERLIGHT_ALIAS}", b"\x00\x05\x16\x07")
    return path
