"""Array splits on disk and stratified splitting, shared by the array datasets.

A split is two ``.npy`` files in the preprocess output: ``<split>_x.npy`` and ``<split>_y.npy``.
Keeping each split in its own files means tune and train never load the test set: only evaluate
(and explain) ask for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from pipeline.errors import PipelineError


def stratified_indices(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out) with ``fraction`` of every class held out."""
    indices = np.arange(len(labels))
    kept, held_out = train_test_split(
        indices, test_size=fraction, stratify=labels, random_state=seed, shuffle=True
    )
    return np.sort(kept), np.sort(held_out)


def stratified_subset(labels: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """Indices of a stratified subset of ``size`` samples (all of them when size is None or
    not smaller than the data)."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    subset, _ = train_test_split(
        np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed
    )
    return np.sort(subset)


def save_split(folder: Path, split: str, x: np.ndarray, y: np.ndarray) -> None:
    np.save(folder / f"{split}_x.npy", x)
    np.save(folder / f"{split}_y.npy", y)


def load_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    x_path, y_path = folder / f"{split}_x.npy", folder / f"{split}_y.npy"
    if not (x_path.exists() and y_path.exists()):
        raise PipelineError(f"{x_path} or {y_path} is missing: run the preprocess stage first")
    return np.load(x_path), np.load(y_path)


def class_counts(labels: np.ndarray, classes: Sequence[int]) -> list[int]:
    return [int(np.sum(labels == label)) for label in classes]
