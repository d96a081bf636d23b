"""How close a colourised image is to the true one.

* PSNR (dB) of the RGB image in [0, 1] (``data_range=1``): per image, and over the whole set
  (from the mean squared error of every test pixel, which one gray test image copied exactly
  cannot make infinite);
* SSIM of the RGB image, per image, a ``window``-pixel window on each channel;
* chroma error: the Euclidean distance between the true and the predicted (a*, b*) of each
  pixel, in CIE Lab units, averaged over the image's pixels (the CIE76 colour difference
  with the lightness difference left out: what colourisation got wrong in hue and saturation).
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pipeline.experiments.colourise.colour import to_lab

DATA_RANGE = 1.0  # RGB in [0, 1]
FIGURES = ("psnr", "ssim", "chroma_error")  # what :func:`summary` gives for a set of images


def psnr(true: np.ndarray, predicted: np.ndarray) -> float:
    """PSNR of every pixel of ``predicted`` against ``true`` at once (inf when identical)."""
    return float(peak_signal_noise_ratio(true, predicted, data_range=DATA_RANGE))


def chroma_distance(true_lab: np.ndarray, predicted_lab: np.ndarray) -> np.ndarray:
    """Per pixel: the Euclidean distance between the two (a*, b*), (N, H, W)."""
    return np.linalg.norm(true_lab[..., 1:] - predicted_lab[..., 1:], axis=-1)


def score_images(true: np.ndarray, true_lab: np.ndarray, predicted: np.ndarray,
                 window: int) -> dict[str, np.ndarray]:
    """Per image of float RGB ``true``/``predicted`` (N, H, W, 3): ``psnr``, ``ssim``,
    ``chroma_error`` and ``squared_error`` (the mean over its pixels and channels)."""
    return {
        "psnr": np.array([psnr(a, b) for a, b in zip(true, predicted, strict=True)]),
        "ssim": np.array([structural_similarity(a, b, data_range=DATA_RANGE, channel_axis=-1,
                                                win_size=window)
                          for a, b in zip(true, predicted, strict=True)]),
        "chroma_error": chroma_distance(true_lab, to_lab(predicted)).mean(axis=(1, 2)),
        "squared_error": np.square(true - predicted).mean(axis=(1, 2, 3)),
    }


def summary(scores: dict[str, np.ndarray]) -> dict[str, float]:
    """The set's figures: PSNR of the pooled squared error, mean SSIM and chroma error."""
    return {"psnr": float(10 * np.log10(DATA_RANGE**2 / scores["squared_error"].mean())),
            "ssim": float(scores["ssim"].mean()),
            "chroma_error": float(scores["chroma_error"].mean())}
