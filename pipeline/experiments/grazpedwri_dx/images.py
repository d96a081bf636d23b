"""16-bit grayscale images: reading them whole, windowing, fitting to a square, and streaming
the prepared squares from disk with ``tf.data``.

Radiographs come as 16-bit PNGs of varying shapes. Preparing one (:func:`intensity_window`,
then :func:`fit_square`) keeps every bit until the intensity window is applied (the image's
own range or a robust percentile window), keeps the aspect ratio (resize, then pad to a
square) and records the :class:`Geometry` that maps anything computed on the square (a
Grad-CAM map) back onto the original. Prepared squares are written as 16-bit PNGs;
:func:`image_dataset` decodes them in parallel, batches and prefetches, so training streams
from disk instead of holding the data in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

UINT16_MAX = 65535
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I")


class UnreadableImage(ValueError):
    """A file that is missing, truncated or not a grayscale image."""


def read_grayscale16(path: Path) -> np.ndarray:
    """The pixels of a grayscale PNG as uint16 (8-bit images are scaled to 16 bits)."""
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            pixels = np.asarray(image)
    except FileNotFoundError:
        raise UnreadableImage("file not found") from None
    except (OSError, SyntaxError, ValueError) as error:  # PIL's truncated/corrupt file errors
        raise UnreadableImage(f"unreadable ({error})") from None
    if mode == "L":
        return pixels.astype(np.uint16) * 257
    if mode not in _SIXTEEN_BIT_MODES:
        raise UnreadableImage(f"mode {mode} is not grayscale")
    if pixels.size == 0:
        raise UnreadableImage("empty image")
    if pixels.min() < 0 or pixels.max() > UINT16_MAX:
        raise UnreadableImage(f"values outside 0..{UINT16_MAX}")
    return pixels.astype(np.uint16)


def intensity_window(
    pixels: np.ndarray,
    method: Literal["range", "percentile"],
    low: float = 0.5,
    high: float = 99.5,
) -> np.ndarray:
    """float32 in [0, 1]: the image's full range, or the ``low``..``high`` percentile window
    (values beyond it saturate: burned-in text and collimator edges do not set the contrast).
    """
    if method == "range":
        lo, hi = float(pixels.min()), float(pixels.max())
    else:
        cumulative = np.cumsum(np.bincount(pixels.ravel(), minlength=UINT16_MAX + 1))
        lo, hi = (float(np.searchsorted(cumulative, cumulative[-1] * q / 100.0))
                  for q in (low, high))
    scaled = (pixels.astype(np.float32) - lo) / max(hi - lo, 1.0)
    return np.clip(scaled, 0.0, 1.0)


@dataclass(frozen=True)
class Geometry:
    """Where an original of ``height`` x ``width`` sits in its prepared ``size`` square: resized
    to ``content_height`` x ``content_width`` and padded by ``top`` and ``left``."""

    height: int
    width: int
    size: int
    content_height: int
    content_width: int
    top: int
    left: int

    @classmethod
    def fit(cls, height: int, width: int, size: int) -> Geometry:
        scale = size / max(height, width)
        content_height = max(1, round(height * scale))
        content_width = max(1, round(width * scale))
        return cls(height, width, size, content_height, content_width,
                   (size - content_height) // 2, (size - content_width) // 2)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def to_original(self, square_map: np.ndarray) -> np.ndarray:
        """A map over the square (any resolution) cropped to the content and resized to the
        original's ``height`` x ``width``."""
        factor = square_map.shape[0] / self.size
        box = (self.left * factor, self.top * factor, (self.left + self.content_width) * factor,
               (self.top + self.content_height) * factor)
        image = Image.fromarray(square_map.astype(np.float32), mode="F")
        resized = image.resize((self.width, self.height), Image.Resampling.BILINEAR, box=box)
        return np.asarray(resized)


def fit_square(image: np.ndarray, size: int) -> tuple[np.ndarray, Geometry]:
    """Resize a float image so its longer side is ``size`` (aspect kept; area-averaging when
    shrinking) and pad it with zeros to ``size`` x ``size``."""
    geometry = Geometry.fit(*image.shape, size)
    shrinking = geometry.content_height < geometry.height
    resized = Image.fromarray(image.astype(np.float32), mode="F").resize(
        (geometry.content_width, geometry.content_height),
        Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR,
    )
    square = np.zeros((size, size), dtype=np.float32)
    square[geometry.top : geometry.top + geometry.content_height,
           geometry.left : geometry.left + geometry.content_width] = np.asarray(resized)
    return square, geometry


def write_png16(path: Path, image: np.ndarray) -> None:
    """A float image in [0, 1] as a 16-bit grayscale PNG."""
    pixels = np.round(np.clip(image, 0.0, 1.0) * UINT16_MAX).astype(np.uint16)
    Image.fromarray(pixels).save(path)


def read_png16_unit(path: Path) -> np.ndarray:
    """A prepared 16-bit PNG as float32 in [0, 1] (NumPy; for explanations and plots)."""
    return read_grayscale16(path).astype(np.float32) / UINT16_MAX


def read_squares(paths: Sequence[str | Path]) -> np.ndarray:
    """Prepared squares as one float32 batch ``(N, size, size, 1)`` in [0, 1] (NumPy)."""
    return np.stack([read_png16_unit(Path(path)) for path in paths])[..., None]


def image_dataset(
    files: Sequence[str],
    labels: Sequence[int] | None = None,
    *,
    image_size: int,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
) -> object:
    """A ``tf.data.Dataset`` of ``(image, label)`` batches (images only without labels):
    16-bit PNG squares decoded in parallel to float32 ``(size, size, 1)`` in [0, 1], in
    file order (or shuffled with ``seed``, anew every epoch), prefetched."""
    import tensorflow as tf

    def load(path: tf.Tensor) -> tf.Tensor:
        pixels = tf.io.decode_png(tf.io.read_file(path), channels=1, dtype=tf.uint16)
        image = tf.cast(pixels, tf.float32) / UINT16_MAX
        return tf.ensure_shape(image, (image_size, image_size, 1))

    paths = [str(file) for file in files]
    data = tf.data.Dataset.from_tensor_slices(
        paths if labels is None else (paths, np.asarray(labels, dtype=np.int32))
    )
    if shuffle:
        data = data.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if labels is None:
        data = data.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        data = data.map(lambda path, label: (load(path), label),
                        num_parallel_calls=tf.data.AUTOTUNE)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
