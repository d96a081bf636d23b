"""Fashion-MNIST's four official IDX files (the ones ``keras.datasets.fashion_mnist``
downloads), their checks, and the images as the model reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.core.errors import DataError
from pipeline.ml.idx import read_idx

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]
FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
SIZES = {"train": 60000, "test": 10000}


def read_arrays(folder: Path, *, synthetic: bool) -> dict[str, np.ndarray]:
    """The four arrays, checked: uint8 28x28 images, labels 0..9, as many of each; on real
    data the official counts."""
    arrays = {key: read_idx(folder / name) for key, name in FILES.items()}
    for split, count in SIZES.items():
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        where = folder / FILES[f"x_{split}"]
        if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
            raise DataError(f"{where}: {images.dtype} images of shape {images.shape}, "
                            "expected uint8 (N, 28, 28)")
        if labels.shape != (len(images),) or labels.max(initial=0) >= len(CLASSES):
            raise DataError(f"{folder / FILES[f'y_{split}']}: labels of shape {labels.shape} "
                            f"(max {labels.max(initial=0)}), expected {len(images)} in 0..9")
        if not synthetic and len(images) != count:
            raise DataError(f"{where}: {len(images)} images, the official {split} set has "
                            f"{count}")
    return arrays


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1], the Bernoulli means the model's
    likelihood scores."""
    return (images.astype("float32") / 255.0)[..., None]
