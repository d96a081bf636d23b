"""CIFAR-10: the official ``cifar-10-python.tar.gz`` (pickled batches), verified by its sha256,
or a mirror's zip of lossless PNGs accepted by content; either way kept in the canonical form
of :mod:`pipeline.datasets.images`.

The PNG copy cannot carry the official archive's checksum, and the order of the images inside
the official batches cannot be recovered from it, so it is verified by the order-independent
:func:`~pipeline.datasets.images.content_fingerprint` of its decoded images (recorded below
from the real copy, whose first 4000 training images were checked pixel for pixel against the
official batches). Synthetic mode writes a small tarball in the official format and reads it
through the same reader.
"""

from __future__ import annotations

import io
import logging
import pickle
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import ClassVar

import numpy as np
from PIL import Image
from tqdm import tqdm

from pipeline.core.errors import DataError, DownloadError
from pipeline.datasets.images import ImageSet, content_fingerprint, load_image_set, save_image_set
from pipeline.datasets.mirrors import local_folder
from pipeline.download.fetch import fetch
from pipeline.download.source import Source

log = logging.getLogger(__name__)

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]
SPLITS = ("train", "test")
OFFICIAL_SIZES = {"train": 50000, "test": 10000}
ARCHIVE = Source(
    "cifar10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "cifar-10-python.tar.gz",
    sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")
PNG_ZIP = "cifar10-png.zip"  # a mirror's other container: <mirror>/cifar10/cifar10-png.zip
FINGERPRINT = "36d947278f709188627b1ea0f7d5c02d45efdf7a1bd825d16e1f1a00fe9949ca"
_FOLDER = "cifar-10-batches-py"
_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
SYNTHETIC_PER_CLASS = {"train": 40, "test": 10}


def download(dest: Path, *, synthetic: bool, rng: np.random.Generator, mirror: str | None,
             partials: Path) -> dict[str, int]:
    """Write the canonical train and test sets into ``dest``; return their sizes."""
    dest.mkdir(parents=True, exist_ok=True)
    if synthetic:
        archive = dest / ARCHIVE.filename
        write_official(archive, {split: draw_images(rng, count)
                                 for split, count in SYNTHETIC_PER_CLASS.items()})
        splits = _read_and_delete(archive)
    else:
        splits = _real_splits(dest, mirror, partials)
    for split, images in splits.items():
        save_image_set(dest, split, images)
    return {f"{split}_images": len(images) for split, images in splits.items()}


def read(folder: Path, split: str) -> ImageSet:
    """The canonical ``split`` ("train" or "test") that :func:`download` wrote."""
    if split not in SPLITS:
        raise ValueError(f"CIFAR-10 has no split {split!r}")
    return load_image_set(folder, split)


def _real_splits(dest: Path, mirror: str | None, partials: Path) -> dict[str, ImageSet]:
    """The mirror's PNG zip if its content is CIFAR-10's, else the official archive (from the
    mirror or the network)."""
    rejection = None
    folder = local_folder(mirror, ARCHIVE.dataset)
    png_zip = folder / PNG_ZIP if folder is not None else None
    if png_zip is not None and png_zip.is_file():
        splits = read_png_zip(png_zip)
        found = content_fingerprint(splits)
        if found == FINGERPRINT:
            log.info("%s holds CIFAR-10 (content fingerprint %s)", png_zip, found[:12])
            return splits
        rejection = (f"{png_zip} is not CIFAR-10: the content fingerprint of its images is "
                     f"{found}, CIFAR-10's is {FINGERPRINT}")
        log.warning("%s; fetching the official archive instead", rejection)
    try:
        archive = fetch(ARCHIVE, dest, mirror=mirror, partials=partials)
    except DownloadError as error:
        raise DownloadError(f"{rejection}.\n{error}" if rejection else str(error)) from None
    splits = _read_and_delete(archive)
    for split, images in splits.items():
        if len(images) != OFFICIAL_SIZES[split]:
            raise DataError(f"{archive}: {len(images)} {split} images, CIFAR-10 has "
                            f"{OFFICIAL_SIZES[split]}")
    return splits


def _read_and_delete(archive: Path) -> dict[str, ImageSet]:
    try:
        return read_official(archive)
    finally:
        archive.unlink()


# -- the official container ---------------------------------------------------------------------


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts, lists, bytes and numpy arrays, nothing that could run code."""

    _ALLOWED: ClassVar = {("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
                ("numpy", "dtype"), ("_codecs", "encode")}  # how protocol 2 stores bytes

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_official(archive: Path) -> dict[str, ImageSet]:
    """The batches of ``cifar-10-python.tar.gz``, read member by member from the archive
    (nothing is written to disk, so no member can land anywhere)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            meta = _unpickle(tar, archive, "batches.meta")
            classes = [name.decode() for name in meta[b"label_names"]]
            if classes != CLASSES:
                raise DataError(f"{archive}: batches.meta names the classes {classes}, "
                                f"expected {CLASSES}")
            return {split: _batches(tar, archive, names) for split, names in _BATCHES.items()}
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{archive}: not a readable tar.gz ({error})") from None


def _batches(tar: tarfile.TarFile, archive: Path, names: list[str]) -> ImageSet:
    images, labels, files = [], [], []
    for name in names:
        batch = _unpickle(tar, archive, name)
        try:
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.extend(batch[b"labels"])
            files.extend(file.decode() for file in batch[b"filenames"])
        except (KeyError, ValueError) as error:
            raise DataError(f"{archive}: {_FOLDER}/{name} is not a CIFAR-10 batch "
                            f"({error!r})") from None
    try:
        return ImageSet(np.concatenate(images), np.array(labels, dtype="int64"), files, CLASSES)
    except DataError as error:
        raise DataError(f"{archive}: {error}") from None


def _unpickle(tar: tarfile.TarFile, archive: Path, name: str) -> dict:
    try:
        member = tar.getmember(f"{_FOLDER}/{name}")
    except KeyError:
        raise DataError(f"{archive}: no member {_FOLDER}/{name}") from None
    stream = tar.extractfile(member) if member.isfile() else None
    if stream is None:
        raise DataError(f"{archive}: {_FOLDER}/{name} is not a regular file")
    try:
        batch = _ArraysOnly(stream, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise DataError(f"{archive}: {_FOLDER}/{name} is not a CIFAR-10 batch ({error})") \
            from None
    if not isinstance(batch, dict):
        raise DataError(f"{archive}: {_FOLDER}/{name} holds a {type(batch).__name__}, not a "
                        "batch")
    return batch


def write_official(archive: Path, splits: dict[str, ImageSet]) -> None:
    """A tarball in the official layout: five training batches, one test batch, the meta."""
    members = {"batches.meta": {b"label_names": [name.encode() for name in CLASSES],
                                b"num_vis": 3072}}
    for split, names in _BATCHES.items():
        images = splits[split]
        for number, part in enumerate(np.array_split(np.arange(len(images)), len(names))):
            members[names[number]] = {
                b"batch_label": f"{names[number]} (synthetic)".encode(),
                b"labels": images.labels[part].tolist(),
                b"data": images.images[part].transpose(0, 3, 1, 2).reshape(len(part), -1),
                b"filenames": [images.names[i].encode() for i in part],
            }
    with tarfile.open(archive, "w:gz") as tar:
        for name, content in members.items():
            payload = pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(f"{_FOLDER}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


# -- the mirror's PNG zip -----------------------------------------------------------------------


def read_png_zip(path: Path) -> dict[str, ImageSet]:
    """``<split>/<class>/<file name>.png`` entries, decoded (a progress bar for the 60,000)."""
    found: dict[str, tuple[list[np.ndarray], list[int], list[str]]] = {
        split: ([], [], []) for split in SPLITS}
    try:
        with zipfile.ZipFile(path) as archive:
            entries = [info for info in archive.infolist() if not info.is_dir()]
            for info in tqdm(entries, desc=f"reading {path.name}", unit="image",
                             mininterval=2, leave=False):
                split, label, pixels = _png_entry(path, archive, info)
                images, labels, names = found[split]
                images.append(pixels)
                labels.append(label)
                names.append(PurePosixPath(info.filename).name)
    except zipfile.BadZipFile as error:
        raise DataError(f"{path}: not a readable zip ({error})") from None
    return {split: ImageSet(np.stack(images) if images else np.zeros((0, 32, 32, 3), "uint8"),
                            np.array(labels, dtype="int64"), names, CLASSES)
            for split, (images, labels, names) in found.items()}


def _png_entry(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo
               ) -> tuple[str, int, np.ndarray]:
    parts = PurePosixPath(info.filename).parts
    if len(parts) != 3 or parts[0] not in SPLITS or parts[1] not in CLASSES:
        raise DataError(f"{path}: entry {info.filename} is not <train|test>/<class>/<name>.png "
                        f"with a class of {CLASSES}")
    try:
        with Image.open(io.BytesIO(archive.read(info))) as image:
            pixels = np.asarray(image)
            mode = image.mode
    except (OSError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: entry {info.filename} is not a readable image "
                        f"({error})") from None
    if mode != "RGB" or pixels.shape != (32, 32, 3):
        raise DataError(f"{path}: entry {info.filename} is a {mode} image of shape "
                        f"{pixels.shape}, expected RGB 32x32")
    return parts[0], CLASSES.index(parts[1]), pixels


# -- synthetic stand-ins ------------------------------------------------------------------------


def draw_images(rng: np.random.Generator, per_class: int) -> ImageSet:
    """``per_class`` 32x32 images of each class: a class colour behind a blob of its
    complementary colour at a random place, with noise (learnable, not trivial)."""
    size = 32
    rows, cols = np.mgrid[:size, :size]
    images, labels, names = [], [], []
    for label, name in enumerate(CLASSES):
        colour = np.array([(label * 97) % 256, (label * 53 + 80) % 256, (label * 29 + 160) % 256])
        for index in range(per_class):
            centre = rng.uniform(8, 24, size=2)
            radius = rng.uniform(4, 9)
            blob = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < radius**2
            shade = np.linspace(0.6, 1.0, size)[:, None, None]
            image = colour * shade * np.ones((size, size, 3))
            image[blob] = 255 - colour
            image += rng.normal(0, 12, image.shape)
            images.append(np.clip(image, 0, 255).astype("uint8"))
            labels.append(label)
            names.append(f"synthetic_{name}_{index:05d}.png")
    return ImageSet(np.stack(images), np.array(labels, dtype="int64"), names, CLASSES)
