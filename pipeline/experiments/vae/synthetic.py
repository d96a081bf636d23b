"""Stand-in garments for synthetic mode: one filled outline per class at a jittered size and
place, in Fashion-MNIST's array format."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# class -> polygon on a 0..1 square (T-shirt, trouser, ... ankle boot, roughly)
_OUTLINES = [
    [(0.1, 0.2), (0.35, 0.1), (0.65, 0.1), (0.9, 0.2), (0.8, 0.4), (0.7, 0.35), (0.7, 0.9),
     (0.3, 0.9), (0.3, 0.35), (0.2, 0.4)],
    [(0.3, 0.1), (0.7, 0.1), (0.75, 0.95), (0.55, 0.95), (0.5, 0.4), (0.45, 0.95),
     (0.25, 0.95)],
    [(0.1, 0.2), (0.9, 0.2), (0.95, 0.85), (0.75, 0.85), (0.7, 0.9), (0.3, 0.9), (0.25, 0.85),
     (0.05, 0.85)],
    [(0.4, 0.1), (0.6, 0.1), (0.65, 0.4), (0.85, 0.95), (0.15, 0.95), (0.35, 0.4)],
    [(0.15, 0.15), (0.85, 0.15), (0.95, 0.95), (0.55, 0.95), (0.5, 0.3), (0.45, 0.95),
     (0.05, 0.95)],
    [(0.05, 0.6), (0.6, 0.45), (0.95, 0.55), (0.95, 0.7), (0.05, 0.7)],
    [(0.2, 0.1), (0.8, 0.1), (0.85, 0.9), (0.15, 0.9)],
    [(0.05, 0.5), (0.5, 0.4), (0.95, 0.6), (0.95, 0.75), (0.05, 0.75)],
    [(0.15, 0.35), (0.85, 0.35), (0.85, 0.9), (0.15, 0.9)],
    [(0.35, 0.1), (0.6, 0.1), (0.6, 0.55), (0.95, 0.75), (0.95, 0.9), (0.35, 0.9)],
]


def draw_garments(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` 28x28 uint8 images, labels balanced and shuffled."""
    labels = rng.permutation(np.arange(count) % len(_OUTLINES)).astype("uint8")
    images = np.zeros((count, 28, 28), dtype="uint8")
    for index, label in enumerate(labels):
        scale, (dx, dy) = rng.uniform(18, 26), rng.uniform(-2, 2, size=2)
        corner = (28 - scale) / 2
        outline = [(corner + dx + x * scale, corner + dy + y * scale)
                   for x, y in _OUTLINES[label]]
        canvas = Image.new("L", (28, 28))
        ImageDraw.Draw(canvas).polygon(outline, fill=int(rng.integers(120, 256)))
        images[index] = np.asarray(canvas)
    return images, labels
