"""What the download stage keeps of the database, whichever way it came (a mirror folder of
extracted files, the zip from the network or an HTTP mirror, or generated stand-ins):
``faces.npy``, the 165 faces as uint8 (165, 243, 320) in the canonical order, and
``images.csv``, one row per face. Its bytes depend on the images alone, so ``dvc.lock`` does
not depend on the route the data took; preprocess reads nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError
from pipeline.experiments.yalefaces.fingerprints import fingerprint_mismatches, pixel_fingerprint
from pipeline.experiments.yalefaces.layout import IMAGE_NAMES, IMAGE_SHAPE

FACES_FILE = "faces.npy"
TABLE_FILE = "images.csv"


def database_table(pixels: np.ndarray, files: Sequence[str]) -> pd.DataFrame:
    """The table of the faces ``pixels`` (canonical order): image, file (its name in the
    original zip), subject (1..15), condition, fingerprint and group (images with identical
    pixels share a group: the lowest index)."""
    fingerprints = [pixel_fingerprint(image) for image in pixels]
    first_index: dict[str, int] = {}
    return pd.DataFrame({
        "image": IMAGE_NAMES,
        "file": list(files),
        "subject": [int(name[7:9]) for name in IMAGE_NAMES],
        "condition": [name.split(".", 1)[1] for name in IMAGE_NAMES],
        "fingerprint": fingerprints,
        "group": [first_index.setdefault(digest, index)
                  for index, digest in enumerate(fingerprints)],
    })


def write_canonical(folder: Path, pixels: np.ndarray, table: pd.DataFrame) -> None:
    np.save(folder / FACES_FILE, np.ascontiguousarray(pixels, dtype=np.uint8))
    table.to_csv(folder / TABLE_FILE, index=False)


def read_canonical(folder: Path, *, synthetic: bool) -> tuple[np.ndarray, pd.DataFrame]:
    """The faces and their table as the download stage wrote them, checked against each
    other; real data must also be the original images (by their pixel fingerprints)."""
    faces, table = folder / FACES_FILE, folder / TABLE_FILE
    try:
        pixels = np.load(faces, allow_pickle=False)
        written = pd.read_csv(table)
    except FileNotFoundError as error:
        raise DataError(f"{error.filename} is missing: run the download stage again") from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{folder}: {FACES_FILE} or {TABLE_FILE} is unreadable ({error})"
                        ) from error
    expected_shape = (len(IMAGE_NAMES), *IMAGE_SHAPE)
    if pixels.dtype != np.uint8 or pixels.shape != expected_shape:
        raise DataError(f"{faces}: {pixels.dtype} {pixels.shape}, expected uint8 "
                        f"{expected_shape}")
    if "file" not in written or len(written) != len(IMAGE_NAMES):
        raise DataError(f"{table}: expected one row per image with a file column")
    computed = database_table(pixels, written["file"])
    if not computed.equals(written):
        raise DataError(f"{table} does not describe {faces}: run the download stage again")
    if not synthetic and (wrong := fingerprint_mismatches(computed["image"],
                                                          computed["fingerprint"])):
        raise DataError(f"{folder}: {len(wrong)} images are not the downloaded originals: "
                        f"{wrong[:10]}")
    return pixels, computed
