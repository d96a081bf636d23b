"""Whether two classifiers differ on the same examples: McNemar's exact test on their paired
outcomes. Accuracies alone rank two models even when a handful of examples separate them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest


@dataclass(frozen=True)
class PairedTest:
    only_first_right: int
    only_second_right: int
    p_value: float  # two-sided: how often chance alone splits the discordant pairs this unevenly


def mcnemar(first_correct: np.ndarray, second_correct: np.ndarray) -> PairedTest:
    """McNemar's exact test: only the examples one model gets right and the other wrong count,
    and without a difference they split half and half, so the p-value is a binomial test's
    on them (the exact form, right for the few discordant pairs small test sets give)."""
    first, second = np.asarray(first_correct, bool), np.asarray(second_correct, bool)
    if first.shape != second.shape:
        raise ValueError(f"paired outcomes differ in shape: {first.shape} vs {second.shape}")
    only_first, only_second = int(np.sum(first & ~second)), int(np.sum(second & ~first))
    discordant = only_first + only_second
    p_value = binomtest(only_first, discordant, 0.5).pvalue if discordant else 1.0
    return PairedTest(only_first, only_second, float(p_value))
