"""Patient-grouped, label-stratified splits and subsets."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.ml.grouped_splits import grouped_stratified_sample, grouped_stratified_split

FRACTIONS = {"train": 0.7, "validation": 0.15, "test": 0.15}


def patients(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and patient ids: 1 to 6 images per patient, labels mostly shared per patient."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(count), rng.integers(1, 7, count))
    patient_label = rng.random(count) < 0.65
    labels = (patient_label[groups] & (rng.random(len(groups)) < 0.9)).astype(int)
    return labels, groups


def test_split_keeps_patients_whole_and_labels_balanced() -> None:
    labels, groups = patients(800)
    splits = grouped_stratified_split(labels, groups, FRACTIONS, seed=3)
    for group in np.unique(groups):
        assert len(set(splits[groups == group])) == 1
    for name, fraction in FRACTIONS.items():
        part = splits == name
        assert part.mean() == pytest.approx(fraction, abs=0.01)
        assert labels[part].mean() == pytest.approx(labels.mean(), abs=0.02)


def test_split_is_seeded() -> None:
    labels, groups = patients(300)
    first = grouped_stratified_split(labels, groups, FRACTIONS, seed=1)
    assert np.array_equal(first, grouped_stratified_split(labels, groups, FRACTIONS, seed=1))
    assert not np.array_equal(first, grouped_stratified_split(labels, groups, FRACTIONS, seed=2))


def test_equal_splits_share_the_remainders() -> None:
    # 15 classes of 11 samples over 10 equal splits (Yale's k-fold blocks): each split gets
    # one sample per class, and the 15 eleventh samples spread out instead of all landing in
    # the first split (which then held 25 samples to the others' 15)
    labels = np.repeat(np.arange(15), 11)
    for seed in range(3):
        splits = grouped_stratified_split(labels, np.arange(len(labels)),
                                          {str(k): 0.1 for k in range(10)}, seed=seed)
        sizes = np.unique(splits, return_counts=True)[1]
        assert sizes.min() >= 16 and sizes.max() <= 17, sizes


def test_split_rejects_bad_fractions() -> None:
    labels, groups = patients(10)
    with pytest.raises(ValueError, match="sum to 1"):
        grouped_stratified_split(labels, groups, {"train": 0.7, "test": 0.2}, seed=0)


def test_sample_takes_whole_patients_nested_and_stratified() -> None:
    labels, groups = patients(2000)
    large = grouped_stratified_sample(labels, groups, 1500, seed=5)
    small = grouped_stratified_sample(labels, groups, 300, seed=5)
    assert set(small) <= set(large)
    for chosen, size in ((large, 1500), (small, 300)):
        assert len(chosen) == pytest.approx(size, abs=12)  # whole patients: a few over
        assert labels[chosen].mean() == pytest.approx(labels.mean(), abs=0.04)
        picked = set(groups[chosen])
        assert np.isin(groups, list(picked)).sum() == len(chosen)  # every image of a patient
    assert len(grouped_stratified_sample(labels, groups, 10**6, seed=5)) == len(labels)
