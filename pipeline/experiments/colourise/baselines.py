"""The two colourisations that know nothing of the image's content: what a model must beat.

* ``gray_copy``: the gray image itself (its L*, a* = b* = 0), zero chroma everywhere;
* ``mean_colour``: at every pixel position, the mean a*b* of the training images there (blue
  sky above, brown ground below, on average), put on the test image's own L*.
"""

from __future__ import annotations

import numpy as np

from pipeline.experiments.colourise.colour import with_chroma


def mean_chroma(train_lab: np.ndarray) -> np.ndarray:
    """The training images' mean a*b* per pixel position, (1, H, W, 2)."""
    return train_lab[..., 1:].mean(axis=0, keepdims=True, dtype="float64").astype("float32")


def gray_copy(lab: np.ndarray) -> np.ndarray:
    """RGB of ``lab``'s lightness alone."""
    return with_chroma(lab, np.zeros((1, *lab.shape[1:3], 2), "float32"))


def mean_colour(lab: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """RGB of ``lab``'s lightness under the per-position mean ``chroma``."""
    return with_chroma(lab, chroma)
