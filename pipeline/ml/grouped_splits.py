"""Splits and subsets that keep every group (a patient, a subject) whole.

When several samples come from one patient, a split by sample leaks: the model meets the
patient's other images in validation or test. Both functions here assign whole groups, and
balance the labels while doing so, so each split (or the subset) keeps the overall class mix.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def _group_label_counts(
    labels: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique groups, the index of each sample's group, and per-group label counts."""
    unique, inverse = np.unique(groups, return_inverse=True)
    classes, label_index = np.unique(labels, return_inverse=True)
    counts = np.zeros((len(unique), len(classes)), dtype=np.int64)
    np.add.at(counts, (inverse, label_index), 1)
    return unique, inverse, counts


def _lowest(values: np.ndarray) -> np.ndarray:
    """Indices of the values equal to the minimum (up to float rounding)."""
    return np.flatnonzero(np.isclose(values, values.min(), rtol=0.0, atol=1e-9))


def grouped_stratified_split(
    labels: np.ndarray,
    groups: np.ndarray,
    fractions: Mapping[str, float],
    seed: int,
) -> np.ndarray:
    """The split name of every sample: no group in two splits, labels stratified.

    ``fractions`` maps split names to shares of the samples (they must sum to 1). Groups are
    visited largest first (ties in a seeded random order) and each goes to the split where it
    brings the per-class counts closest to their targets (a weighted squared error), which
    keeps both the split sizes and the class mix within a few samples of the targets when
    groups are small compared to the splits. Splits that tie go to the one least filled
    relative to its share, then by a seeded draw: always taking the first would pile every
    class's remainder into one split (11 images of a class over 10 equal splits: one each,
    and the 11th always to the first).
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    if len(labels) != len(groups):
        raise ValueError(f"{len(labels)} labels but {len(groups)} groups")
    names = list(fractions)
    shares = np.array([fractions[name] for name in names], dtype=float)
    if np.any(shares <= 0) or not np.isclose(shares.sum(), 1.0):
        raise ValueError(f"split fractions must be positive and sum to 1, got {dict(fractions)}")
    _, inverse, counts = _group_label_counts(labels, groups)
    targets = shares[:, None] * counts.sum(axis=0)[None, :]
    weights = 1.0 / np.maximum(targets, 1.0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(counts))
    order = order[np.argsort(-counts[order].sum(axis=1), kind="stable")]
    assigned = np.zeros_like(targets)
    split_of_group = np.empty(len(counts), dtype=np.int64)
    for group in order:
        # cost of adding the group to split s = the change in weighted squared error
        before = ((assigned - targets) ** 2 * weights).sum(axis=1)
        after = ((assigned + counts[group] - targets) ** 2 * weights).sum(axis=1)
        best = _lowest(after - before)
        if len(best) > 1:  # a tie: the split furthest below its size target, then a draw
            best = best[_lowest(assigned[best].sum(axis=1) / shares[best])]
        choice = int(best[0] if len(best) == 1 else rng.choice(best))
        assigned[choice] += counts[group]
        split_of_group[group] = choice
    return np.asarray(names, dtype=object)[split_of_group[inverse]]


def grouped_stratified_sample(
    labels: np.ndarray, groups: np.ndarray, size: int, seed: int
) -> np.ndarray:
    """Indices (sorted) of about ``size`` samples made of whole groups, labels stratified.

    Groups are stratified by their majority label; each stratum contributes its share of
    ``size`` samples, taking groups in a seeded random order until the share is reached. A
    smaller ``size`` with the same seed selects a subset of a larger one's selection.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    if size >= len(labels):
        return np.arange(len(labels))
    _, inverse, counts = _group_label_counts(labels, groups)
    stratum = counts.argmax(axis=1)
    group_sizes = counts.sum(axis=1)
    rank = np.random.default_rng(seed).permutation(len(counts))
    chosen = np.zeros(len(counts), dtype=bool)
    for value in np.unique(stratum):
        members = np.flatnonzero(stratum == value)
        members = members[np.argsort(rank[members])]
        quota = size * group_sizes[members].sum() / len(labels)
        taken = np.cumsum(group_sizes[members])
        # the groups needed to reach the quota (the last one may overshoot by its size)
        needed = int(np.searchsorted(taken, quota - 0.5)) + 1
        chosen[members[: min(needed, len(members))]] = True
    return np.flatnonzero(chosen[inverse])
