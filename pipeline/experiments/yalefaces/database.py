"""The Yale face database as distributed, read and verified by content.

Source: ``yalefaces.zip``, whose ``yalefaces/`` folder holds 8-bit grayscale GIFs of 320x243
named ``subjectNN.condition`` without extension, and ``Readme.txt``. Its checksum is not
known, so what arrives is verified by content: the file names, their count, the image size and
a fingerprint of every image's decoded pixels (:mod:`.fingerprints`). Two quirks of the
original zip are handled when reading: subject 1's centerlight image is named
``subject01.gif``, and ``subject01.glasses.gif`` is a copy of ``subject01.glasses`` (checked,
then left out). A mirror may hold the zip, or its folder extracted.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.core.errors import DataError, DownloadError
from pipeline.download.archive import extract_archive
from pipeline.experiments.yalefaces.canonical import database_table
from pipeline.experiments.yalefaces.fingerprints import fingerprint_mismatches, pixel_fingerprint
from pipeline.experiments.yalefaces.layout import CONDITIONS, IMAGE_NAMES, IMAGE_SHAPE, SUBJECTS

log = logging.getLogger(__name__)

ARCHIVE = "yalefaces.zip"
FOLDER = "yalefaces"  # the archive's top folder; a mirror may hold it extracted
README = "Readme.txt"
CENTERLIGHT_ALIAS = "subject01.gif"  # subject01.centerlight's name in the original zip
DUPLICATE_COPY = "subject01.glasses.gif"  # a copy of subject01.glasses in the original zip
_IMAGE_NAME = re.compile(r"subject(\d\d)\.([a-z]+)")


def original_file(image: str) -> str:
    """The name of the file holding ``image`` (``subject01.centerlight``) in the zip."""
    return CENTERLIGHT_ALIAS if image == "subject01.centerlight" else image


def database_files(folder: Path, *, ignore_other_files: bool = False) -> dict[str, Path]:
    """Canonical image name (``subject01.centerlight``) -> file, with the zip's quirks mapped.

    Raises DataError naming the files that are unexpected, ambiguous or missing. With
    ``ignore_other_files`` (a mirror folder), only files named like the database's count.
    """
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    files: dict[str, Path] = {}
    unexpected = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name in (README, DUPLICATE_COPY) or (ignore_other_files and not (
                path.is_file() and (name == CENTERLIGHT_ALIAS or _IMAGE_NAME.fullmatch(name)))):
            continue
        canonical = "subject01.centerlight" if name == CENTERLIGHT_ALIAS else name
        match = _IMAGE_NAME.fullmatch(canonical)
        if not path.is_file() or match is None or match[2] not in CONDITIONS or not (
            1 <= int(match[1]) <= SUBJECTS
        ):
            unexpected.append(name)
            continue
        if canonical in files:
            raise DataError(f"{folder}: both {files[canonical].name} and {name} hold "
                            f"{canonical} (keep one)")
        files[canonical] = path
    if unexpected:
        raise DataError(f"{folder}: unexpected files {unexpected[:10]} ({len(unexpected)} in "
                        "all); expected subjectNN.condition images and Readme.txt")
    missing = [name for name in IMAGE_NAMES if name not in files]
    if missing:
        raise DataError(f"{folder}: {len(missing)} images missing: {missing[:10]}")
    return {name: files[name] for name in IMAGE_NAMES}


def read_image(path: Path) -> np.ndarray:
    """A face as uint8 (243, 320); DataError naming the file if it is not one."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("L", "P"):
                raise DataError(f"{path}: mode {image.mode}, expected 8-bit grayscale")
            pixels = np.asarray(image.convert("L"))
    except (OSError, SyntaxError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from error
    if pixels.shape != IMAGE_SHAPE:
        raise DataError(f"{path}: {pixels.shape[1]}x{pixels.shape[0]} pixels, expected "
                        f"{IMAGE_SHAPE[1]}x{IMAGE_SHAPE[0]}")
    return pixels


def read_database(folder: Path, *, ignore_other_files: bool = False) -> tuple[
        np.ndarray, pd.DataFrame]:
    """All 165 faces (uint8, (165, 243, 320)) and their table
    (:func:`.canonical.database_table`).

    The duplicate ``subject01.glasses.gif``, if present, must hold subject01.glasses's pixels
    (it is then left out); anything else there is a DataError.
    """
    files = database_files(folder, ignore_other_files=ignore_other_files)
    pixels = np.stack([read_image(path) for path in files.values()])
    table = database_table(pixels, [path.name for path in files.values()])
    duplicate = folder / DUPLICATE_COPY
    if duplicate.exists():
        original = table.loc[table["image"] == "subject01.glasses", "fingerprint"].item()
        if pixel_fingerprint(read_image(duplicate)) != original:
            raise DataError(f"{duplicate}: expected a copy of subject01.glasses, but its pixels "
                            "differ; remove it or restore it")
    return pixels, table


def verify_database(folder: Path, *, where: Path, ignore_other_files: bool = False) -> tuple[
        np.ndarray, pd.DataFrame]:
    """The faces and their table, if ``folder`` holds exactly the original images; else
    DownloadError saying what differs (``where``: the folder or archive they came from)."""
    try:
        pixels, table = read_database(folder, ignore_other_files=ignore_other_files)
    except DataError as error:
        raise DownloadError(f"{where}: these are not the expected Yale faces: {error}"
                            ) from None
    wrong = fingerprint_mismatches(table["image"], table["fingerprint"])
    if wrong:
        raise DownloadError(f"{where}: {len(wrong)} images differ from the original database "
                            f"(pixel fingerprints): {wrong[:10]}")
    return pixels, table


@contextmanager
def unpacked_database(archive: Path) -> Iterator[Path]:
    """The zip's ``yalefaces/`` folder, extracted (safely) into a scratch folder in the
    system's temporary folder, never beside the archive (a mirror may be read-only); the
    scratch (macOS ``__MACOSX`` metadata and all) is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="yalefaces-") as scratch:
        unpacked = Path(scratch) / "unpacked"
        extract_archive(archive, unpacked)
        folder = unpacked / FOLDER
        if not folder.is_dir():
            found = sorted(path.name for path in unpacked.iterdir())
            raise DownloadError(f"{archive}: no {FOLDER}/ folder inside (found {found})")
        yield folder


def verify_archive(archive: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """:func:`verify_database` of the zip's images."""
    with unpacked_database(archive) as folder:
        return verify_database(folder, where=archive)


def holds_original_faces(archive: Path) -> bool:
    """Whether the zip at ``archive`` holds exactly the original images (by pixels)."""
    try:
        verify_archive(archive)
    except DownloadError as error:
        log.warning("%s", error)
        return False
    return True


def extracted_mirror(mirror: str | None) -> Path | None:
    """``<mirror>/yalefaces`` when the mirror is a local folder holding the extracted files.
    (A mirror that holds ``yalefaces/yalefaces.zip``, local or HTTP, is fetched as the
    archive.)"""
    if mirror is None or urlparse(mirror).scheme in ("http", "https"):
        return None
    parsed = urlparse(mirror)
    root = Path(url2pathname(parsed.path)) if parsed.scheme == "file" else Path(mirror)
    folder = root / FOLDER
    has_images = any((folder / name).is_file()
                     for name in (CENTERLIGHT_ALIAS, "subject01.centerlight"))
    return folder if has_images else None
