"""Array splits on disk.

A split is two ``.npy`` files in the preprocess output: ``<split>_x.npy`` and ``<split>_y.npy``.
Keeping each split in its own files means tune and train never load the test set: only evaluate
(and explain) ask for it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError


def save_split(folder: Path, split: str, x: np.ndarray, y: np.ndarray) -> None:
    np.save(folder / f"{split}_x.npy", x)
    np.save(folder / f"{split}_y.npy", y)


def load_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    x_path, y_path = folder / f"{split}_x.npy", folder / f"{split}_y.npy"
    if not (x_path.exists() and y_path.exists()):
        raise PipelineError(f"{x_path} or {y_path} is missing: run the preprocess stage first")
    return np.load(x_path), np.load(y_path)
