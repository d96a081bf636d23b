"""Fruits-360 (Mihai Oltean's dataset of 100x100 fruit photos on white): the report's data for
colourisation and clustering, a declared source for users with internet.

Source: the public GitHub release ``Horea94/Fruit-Images-Dataset`` (the archive of its master
branch; no checksum is published, so a download is verified by its structure: the classes
asked for, as 100x100 RGB JPEGs under ``Training/`` and ``Test/``). A local mirror may hold the
archive (``<mirror>/fruits360/Fruit-Images-Dataset-master.zip``) or the extracted folders
(``<mirror>/fruits360/Training/<Class>/``). Only the classes asked for are kept, in the real
layout ``<dest>/<Training|Test>/<Class>/<n>_100.jpg``. Synthetic mode draws stand-ins in
that layout (it is not available offline).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageDraw

from pipeline.core.errors import DataError, DownloadError
from pipeline.datasets.images import ImageSet
from pipeline.datasets.mirrors import local_folder
from pipeline.download.fetch import fetch
from pipeline.download.source import Source

SOURCE = Source("fruits360",
                "https://github.com/Horea94/Fruit-Images-Dataset/archive/refs/heads/master.zip",
                "Fruit-Images-Dataset-master.zip")
SPLITS = ("Training", "Test")
SIZE = 100


def download(dest: Path, *, synthetic: bool, rng: np.random.Generator, mirror: str | None,
             partials: Path, classes: list[str], synthetic_per_class: int) -> dict[str, int]:
    """Put the ``classes``' images into ``dest`` in the real layout; return the counts."""
    dest.mkdir(parents=True, exist_ok=True)
    if synthetic:
        write_standins(dest, classes, synthetic_per_class, rng)
    elif (folder := _extracted_mirror(mirror)) is not None:
        for split in SPLITS:
            for name in classes:
                shutil.copytree(_class_folder(folder / split, name), dest / split / name)
    else:
        archive = fetch(SOURCE, dest, mirror=mirror, partials=partials,
                        content_check=lambda path: bool(_class_members(path, classes)))
        try:
            _copy_classes(archive, dest, classes)
        finally:
            archive.unlink()
    return {f"{split.lower()}_images": len(read(dest, split, classes)) for split in SPLITS}


def read(folder: Path, split: str, classes: list[str]) -> ImageSet:
    """The ``classes``' images of ``split`` ("Training" or "Test"), 100x100 RGB."""
    if split not in SPLITS:
        raise ValueError(f"Fruits-360 has no split {split!r}")
    images, labels, names = [], [], []
    for label, name in enumerate(classes):
        for path in sorted(_class_folder(folder / split, name).glob("*.jpg")):
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB")) if image.mode == "RGB" else None
            if pixels is None or pixels.shape != (SIZE, SIZE, 3):
                raise DataError(f"{path}: expected a {SIZE}x{SIZE} RGB JPEG")
            images.append(pixels)
            labels.append(label)
            names.append(f"{name}/{path.name}")
    return ImageSet(np.stack(images), np.array(labels, dtype="int64"), names, list(classes))


def _class_folder(split_folder: Path, name: str) -> Path:
    folder = split_folder / name
    if not folder.is_dir() or not any(folder.glob("*.jpg")):
        raise DataError(f"{folder}: no JPEGs of the class {name!r} (Fruits-360 spells its "
                        "classes like 'Banana', 'Blueberry')")
    return folder


def _extracted_mirror(mirror: str | None) -> Path | None:
    folder = local_folder(mirror, SOURCE.dataset)
    return folder if folder is not None and (folder / SPLITS[0]).is_dir() else None


def _class_members(archive: Path, classes: list[str]) -> dict[str, PurePosixPath]:
    """Member name -> its place under ``dest``, for every JPEG of ``classes``; raises when a
    class is missing from a split."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            names = zipped.namelist()
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{archive}: not a readable zip ({error})") from None
    members = {}
    for member in names:
        parts = PurePosixPath(member).parts
        if (len(parts) == 4 and parts[1] in SPLITS and parts[2] in classes
                and parts[3].endswith(".jpg")):
            members[member] = PurePosixPath(*parts[1:])
    for split in SPLITS:
        missing = [name for name in classes
                   if not any(place.parts[:2] == (split, name) for place in members.values())]
        if missing:
            raise DownloadError(f"{archive}: no {split}/ images of {', '.join(missing)}")
    return members


def _copy_classes(archive: Path, dest: Path, classes: list[str]) -> None:
    with zipfile.ZipFile(archive) as zipped:
        for member, place in _class_members(archive, classes).items():
            target = dest / place
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zipped.read(member))


def write_standins(dest: Path, classes: list[str], per_class: int,
                   rng: np.random.Generator) -> None:
    """Drawn fruit-like shapes on white, one colour and shape per class (a yellow crescent
    for a banana, a dark-blue disc for a blueberry, an ellipse of a colour of its own for any
    other class), as JPEGs in the real layout."""
    for split in SPLITS:
        for label, name in enumerate(classes):
            folder = dest / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(per_class):
                _draw_fruit(name, label, rng).save(folder / f"{index}_100.jpg", quality=95)


def _draw_fruit(name: str, label: int, rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), "white")
    draw = ImageDraw.Draw(image)
    jitter = rng.integers(-12, 13, size=4)
    box = [15 + jitter[0], 15 + jitter[1], 85 + jitter[2], 85 + jitter[3]]
    shade = rng.uniform(0.8, 1.2)
    if "banana" in name.lower():
        draw.ellipse(box, fill=_scaled((230, 200, 40), shade))
        draw.ellipse([box[0] - 8, box[1] - 22, box[2] + 8, box[3] - 22], fill="white")
    elif "blueberr" in name.lower():
        draw.ellipse([box[0] + 10, box[1] + 10, box[2] - 10, box[3] - 10],
                     fill=_scaled((50, 60, 120), shade))
    else:
        colour = ((label * 97 + 40) % 256, (label * 53 + 90) % 256, (label * 29 + 20) % 256)
        draw.ellipse(box, fill=_scaled(colour, shade))
    noise = rng.normal(0, 4, (SIZE, SIZE, 3))
    return Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype("uint8"))


def _scaled(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, channel * factor)) for channel in colour)
