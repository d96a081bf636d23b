"""Stratified splits and subsets of labelled samples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split


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


def class_counts(labels: np.ndarray, classes: Sequence[int]) -> list[int]:
    return [int(np.sum(labels == label)) for label in classes]
