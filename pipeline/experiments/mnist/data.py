"""MNIST's arrays: the official ``mnist.npz`` (uint8 ``x_train``/``y_train``/``x_test``/
``y_test``), checked, and the canonical form the download stage keeps of them.

A mirror copy may hold the official arrays in another npz container (the copy in
``../shared/datasets`` is rebuilt from the IDX files): it is accepted when its arrays hash to the
official arrays' fingerprints. Either way the download stage writes the arrays as four ``.npy``
files, whose bytes depend on the arrays alone, so ``dvc.lock`` does not depend on which way
the data came.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from pipeline.core.errors import DataError

CLASSES = [str(digit) for digit in range(10)]
IMAGE_SIZE = 28
ARRAY_SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
# sha256 of each official array's raw bytes (C order), from ../shared/datasets/README.md.
ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


def array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def holds_official_arrays(path: Path) -> bool:
    """Whether the npz at ``path`` holds the official arrays, whatever its container."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return all(key in arrays and array_digest(arrays[key]) == digest
                       for key, digest in ARRAY_SHA256.items())
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of an npz file, unchecked."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable npz file ({error})") from error


def check_arrays(arrays: dict[str, np.ndarray], *, where: Path, synthetic: bool) -> None:
    """Names, dtypes, shapes (real data: the official sizes) and the label range."""
    for key, shape in ARRAY_SHAPES.items():
        if key not in arrays:
            raise DataError(f"{where}: array {key!r} is missing (found {sorted(arrays)})")
        array = arrays[key]
        if array.dtype != np.uint8:
            raise DataError(f"{where}: {key} has dtype {array.dtype}, expected uint8")
        expected = shape[1:] if synthetic else shape
        if (array.shape[1:] if synthetic else array.shape) != expected:
            raise DataError(f"{where}: {key} has shape {array.shape}, expected {shape}")
    for key in ("y_train", "y_test"):
        if arrays[key].max(initial=0) > 9:
            raise DataError(f"{where}: {key} holds labels above 9 (max {arrays[key].max()})")


def write_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """The canonical form: one ``<name>.npy`` per array."""
    for key in ARRAY_SHAPES:
        np.save(folder / f"{key}.npy", np.ascontiguousarray(arrays[key]))


def read_arrays(folder: Path, *, synthetic: bool) -> dict[str, np.ndarray]:
    """The canonical arrays the download stage wrote, checked."""
    arrays = {}
    for key in ARRAY_SHAPES:
        path = folder / f"{key}.npy"
        try:
            arrays[key] = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise DataError(f"{path} is missing: run the download stage again") from None
        except (OSError, ValueError) as error:
            raise DataError(f"{path}: not a readable .npy file ({error})") from error
    check_arrays(arrays, where=folder, synthetic=synthetic)
    return arrays


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) → float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype("float32") / 255.0)[..., None]
