"""RGB <-> CIE Lab (D65, scikit-image's conversion), in chunks so that a whole split fits in
memory. L* (0..100) is the lightness a gray image keeps; a* and b* (about -128..127 for sRGB)
are its chroma, what colourisation has to supply."""

from __future__ import annotations

import warnings

import numpy as np
from skimage import color

L_SCALE = 100.0    # L* / L_SCALE: the gray input, in [0, 1]
AB_SCALE = 128.0   # a*b* / AB_SCALE: the chroma target, within (-1, 1)
_CHUNK = 2048      # images converted at once


def rgb_floats(images: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 in [0, 1]."""
    return images.astype("float32") / 255.0


def to_lab(images: np.ndarray) -> np.ndarray:
    """RGB images (N, H, W, 3), uint8 or floats in [0, 1] -> float32 Lab."""
    floats = rgb_floats(images) if images.dtype == np.uint8 else images
    return np.concatenate([color.rgb2lab(floats[start:start + _CHUNK]).astype("float32")
                           for start in range(0, len(floats), _CHUNK)])


def to_rgb(lab: np.ndarray) -> np.ndarray:
    """Lab (N, H, W, 3) -> float32 RGB in [0, 1]. Colours outside the sRGB gamut are clipped,
    as they must be to be shown (scikit-image's warning about it is expected here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*negative Z values", category=UserWarning)
        return np.concatenate([np.clip(color.lab2rgb(lab[start:start + _CHUNK]), 0, 1)
                               .astype("float32") for start in range(0, len(lab), _CHUNK)])


def with_chroma(lab: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """The RGB image of ``lab``'s lightness and the a*b* ``chroma`` (N or 1, H, W, 2)."""
    chroma = np.broadcast_to(chroma, (*lab.shape[:3], 2))
    return to_rgb(np.concatenate([lab[..., :1], chroma], axis=-1))


def gray_input(lab: np.ndarray) -> np.ndarray:
    """What every model sees: L* / 100, (N, H, W, 1)."""
    return lab[..., :1] / L_SCALE
