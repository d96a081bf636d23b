"""CIFAR-10's splits as the stages read them (images, or a frozen backbone's features), and
the real cat and dog photos explain shows the trained model.

The photos are a mirror dataset (``<mirror>/cats-dogs/cat.N.jpg``, ``dog.N.jpg``, no published
checksum): the download stage copies the JPEGs it can decode into its output as they are, and
explain downscales them (centre square, area filter) to CIFAR's 32x32.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pipeline.core.context import StageContext
from pipeline.core.errors import DataError
from pipeline.datasets.cifar10 import CLASSES, draw_images
from pipeline.datasets.mirrors import local_folder
from pipeline.ml.split_files import load_split

log = logging.getLogger(__name__)

FEATURES = "features"  # the backbone's features of each split, beside the image splits
PHOTOS = "cats-dogs"  # the mirror dataset, and its folder in the download stage's output
PHOTO_NAME = re.compile(r"^(cat|dog)\.(\d+)\.jpg$")


def model_inputs(ctx: StageContext, split: str) -> tuple[np.ndarray, np.ndarray]:
    """What the model of ``cifar10.model`` reads: the images, or for a head on a frozen
    backbone the backbone's cached features."""
    folder = ctx.paths.processed
    if ctx.params.model.architecture == "backbone_head":
        folder = folder / FEATURES
    return load_split(folder, split)


def copy_photos(mirror: str | None, dest: Path) -> int | None:
    """Copy the mirror's decodable ``cat.N.jpg`` / ``dog.N.jpg`` to ``dest``; None when the
    mirror has no such folder."""
    folder = local_folder(mirror, PHOTOS)
    if folder is None or not folder.is_dir():
        return None
    dest.mkdir(parents=True, exist_ok=True)
    copied = 0
    for path in sorted(folder.iterdir()):
        if not PHOTO_NAME.match(path.name):
            continue
        try:
            with Image.open(path) as image:
                image.convert("RGB").load()
        except (OSError, UnidentifiedImageError) as error:
            raise DataError(f"{path}: not a readable photo ({error})") from None
        shutil.copyfile(path, dest / path.name)
        copied += 1
    return copied


def write_standin_photos(dest: Path, rng: np.random.Generator, per_animal: int) -> int:
    """Stand-ins in the photos' format: synthetic cats and dogs (as the synthetic CIFAR-10
    draws them) enlarged to a photo's odd size, saved as JPEG."""
    dest.mkdir(parents=True, exist_ok=True)
    drawn = draw_images(rng, per_animal)
    for animal in ("cat", "dog"):
        chosen = np.flatnonzero(drawn.labels == CLASSES.index(animal))
        for number, index in enumerate(chosen):
            photo = Image.fromarray(drawn.images[index]).resize((96, 72), Image.BILINEAR)
            photo.save(dest / f"{animal}.{number}.jpg", quality=90)
    return 2 * per_animal


def read_photos(raw: Path, size: int = 32) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The kept photos as uint8 (N, size, size, 3) (the centre square, downscaled with an
    area filter), their CIFAR-10 labels (cat or dog) and names; empty when none were kept."""
    folder = raw / PHOTOS
    paths = sorted((p for p in folder.glob("*.jpg") if PHOTO_NAME.match(p.name)),
                   key=lambda p: (p.name.split(".")[0], int(p.name.split(".")[1])))
    images, labels = [], []
    for path in paths:
        with Image.open(path) as photo:
            photo = photo.convert("RGB")
            side = min(photo.size)
            left, top = (photo.width - side) // 2, (photo.height - side) // 2
            square = photo.crop((left, top, left + side, top + side))
            images.append(np.asarray(square.resize((size, size), Image.BOX)))
        labels.append(CLASSES.index(PHOTO_NAME.match(path.name).group(1)))
    shape = (len(paths), size, size, 3)
    return (np.stack(images) if images else np.zeros(shape, "uint8"),
            np.array(labels, dtype="int64"), [path.name for path in paths])
