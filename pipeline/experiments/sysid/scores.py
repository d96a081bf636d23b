"""Error measures of identified models."""

from __future__ import annotations

import numpy as np


def mse(predicted: np.ndarray, measured: np.ndarray) -> float:
    return float(np.mean((predicted - measured) ** 2))


def nrmse(predicted: np.ndarray, measured: np.ndarray) -> float:
    """RMS error over the RMS deviation of the measured output from its mean (0 is perfect,
    1 is no better than predicting the mean)."""
    return float(np.sqrt(np.mean((predicted - measured) ** 2)) / np.std(measured))


def relative_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """||estimate - truth|| / ||truth|| of a coefficient vector (a zero coefficient has no
    relative error of its own)."""
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))
