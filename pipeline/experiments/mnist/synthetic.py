"""Stand-in digits for synthetic mode: drawn with a font, learnable, in MNIST's array format."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.experiments.mnist.data import IMAGE_SIZE


def render_digits(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` 28x28 uint8 images of digits in a font at random places, sizes and strokes,
    labels balanced, order shuffled."""
    labels = rng.permutation(np.arange(count) % 10).astype("uint8")
    images = np.zeros((count, IMAGE_SIZE, IMAGE_SIZE), dtype="uint8")
    for index, label in enumerate(labels):
        canvas = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE))
        font = ImageFont.load_default(size=int(rng.integers(16, 24)))
        offset = rng.integers(-3, 4, size=2)
        ImageDraw.Draw(canvas).text(
            (14 + int(offset[0]), 14 + int(offset[1])),
            str(label),
            fill=255,
            font=font,
            anchor="mm",
            stroke_width=int(rng.integers(0, 2)),
            stroke_fill=255,
        )
        canvas = canvas.rotate(float(rng.uniform(-12, 12)), resample=Image.BILINEAR)
        images[index] = np.asarray(canvas)
    return images, labels
