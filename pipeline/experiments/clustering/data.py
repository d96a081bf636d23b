"""The pairs' images: read from the shared datasets' canonical copies, kept per pair in the
preprocess output as uint8 RGB, and turned into what the models read in each colour mode."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from pipeline.core.errors import DataError
from pipeline.core.outputs import read_json, write_json_atomic
from pipeline.datasets import cifar10, fruits360
from pipeline.datasets.images import ImageSet
from pipeline.experiments.clustering.params import ColourMode, PairParams
from pipeline.ml.split_files import load_split

Split = Literal["train", "test"]
CLASSES_FILE = "classes.json"
# ITU-R BT.601 luma, what PIL's convert("L") uses
LUMA = np.array([0.299, 0.587, 0.114], dtype="float32")


def read_pair(raw: Path, pair: PairParams, split: Split) -> ImageSet:
    """The pair's images of ``split`` from the download stage's copy of its dataset, labelled
    0 and 1 in the order of ``pair.classes``."""
    folder = raw / pair.dataset
    if pair.dataset == "cifar10":
        return cifar10.read(folder, split).only(pair.classes)
    return fruits360.read(folder, {"train": "Training", "test": "Test"}[split], pair.classes)


def model_input(images: np.ndarray, mode: ColourMode) -> np.ndarray:
    """uint8 RGB (N, H, W, 3) -> float32 in [0, 1], (N, H, W, 3) or, in grayscale, the luma
    (N, H, W, 1)."""
    scaled = images.astype("float32") / 255.0
    return scaled if mode == "rgb" else (scaled @ LUMA)[..., None]


def save_classes(folder: Path, pair: PairParams) -> None:
    write_json_atomic(folder / CLASSES_FILE, {"dataset": pair.dataset, "classes": pair.classes})


def pair_classes(processed: Path, task: str) -> list[str]:
    """The class names of label 0 and 1 of ``task``, as preprocess recorded them."""
    recorded = read_json(processed / task / CLASSES_FILE)
    if recorded is None:
        raise DataError(f"{processed / task / CLASSES_FILE} is missing: run the preprocess "
                        "stage first")
    return recorded["classes"]


def load_pair_split(processed: Path, task: str, split: str, mode: ColourMode
                    ) -> tuple[np.ndarray, np.ndarray]:
    """One split of ``task`` as the model reads it, and its labels."""
    images, labels = load_split(processed / task, split)
    return model_input(images, mode), labels


def pixel_vectors(images: np.ndarray) -> np.ndarray:
    """Images as pixel vectors, what the pixel and PCA baselines cluster."""
    return images.reshape(len(images), -1)
