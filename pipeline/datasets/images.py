"""A labelled set of RGB images, kept on disk in a canonical form and fingerprinted by its
content alone.

The canonical form is the same whichever container the images came in (the official pickled
batches, a zip of PNGs, folders of JPEGs), so a stage's output, and every stage after it,
does not depend on where the data were fetched from. Images are sorted by file name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.errors import DataError


@dataclass(frozen=True)
class ImageSet:
    """``images``: uint8 (N, H, W, 3); ``labels``: int64 (N,), indices into ``classes``;
    ``names``: the file name of each image in its source."""

    images: np.ndarray
    labels: np.ndarray
    names: list[str]
    classes: list[str]

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[3] != 3:
            raise DataError(f"images of {self.images.dtype} and shape {self.images.shape}, "
                            "expected uint8 (N, H, W, 3)")
        if self.labels.shape != (len(self.images),) or len(self.names) != len(self.images):
            raise DataError(f"{len(self.images)} images, {len(self.labels)} labels and "
                            f"{len(self.names)} names: they must agree")
        if len(self.labels) and not 0 <= self.labels.min() <= self.labels.max() < len(
                self.classes):
            raise DataError(f"labels {self.labels.min()}..{self.labels.max()} for "
                            f"{len(self.classes)} classes")

    def __len__(self) -> int:
        return len(self.labels)

    def sorted_by_name(self) -> ImageSet:
        order = sorted(range(len(self.names)), key=self.names.__getitem__)
        return ImageSet(self.images[order], self.labels[order],
                        [self.names[i] for i in order], self.classes)

    def only(self, classes: list[str]) -> ImageSet:
        """The images of ``classes``, relabelled 0..len(classes)-1 in that order."""
        unknown = sorted(set(classes) - set(self.classes))
        if unknown:
            raise DataError(f"no class {', '.join(unknown)}; the classes are {self.classes}")
        new_label = {self.classes.index(name): label for label, name in enumerate(classes)}
        keep = np.flatnonzero(np.isin(self.labels, list(new_label)))
        labels = np.array([new_label[label] for label in self.labels[keep]], dtype="int64")
        return ImageSet(self.images[keep], labels,
                        [self.names[i] for i in keep], list(classes))


def save_image_set(folder: Path, split: str, images: ImageSet) -> None:
    """``<split>_images.npy``, ``<split>_labels.npy`` and ``<split>_index.json`` (names and
    classes): plain files whose bytes depend on the content only."""
    ordered = images.sorted_by_name()
    np.save(folder / f"{split}_images.npy", ordered.images)
    np.save(folder / f"{split}_labels.npy", ordered.labels.astype("int64"))
    (folder / f"{split}_index.json").write_text(
        json.dumps({"classes": ordered.classes, "names": ordered.names}))


def load_image_set(folder: Path, split: str) -> ImageSet:
    paths = [folder / f"{split}_{part}" for part in ("images.npy", "labels.npy", "index.json")]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise DataError(f"{', '.join(missing)} missing: run the download stage first")
    index = json.loads(paths[2].read_text())
    try:
        return ImageSet(np.load(paths[0]), np.load(paths[1]), index["names"], index["classes"])
    except DataError as error:
        raise DataError(f"{folder} ({split}): {error}") from None


def content_fingerprint(splits: Mapping[str, ImageSet]) -> str:
    """sha256 over the sorted (split, file name, class, sha256 of the pixels) of every image:
    the same for the same images in any order and any container."""
    lines = sorted(
        f"{split}\t{name}\t{images.classes[label]}\t{hashlib.sha256(pixels.tobytes()).hexdigest()}"
        for split, images in splits.items()
        for name, label, pixels in zip(images.names, images.labels, images.images, strict=True))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
