"""Stand-in faces for synthetic mode: drawn, learnable, in the real database's format."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pipeline.experiments.yalefaces.layout import CLASSES, CONDITIONS, IDENTICAL_IMAGES, IMAGE_SHAPE


def synthetic_faces(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Stand-in faces (uint8, 243x320) under the real names: one drawn face per subject (its
    own shape, tone, features and position), varied by condition (side lighting, glasses,
    expressions), with the real database's pixel-identical pairs."""
    rows, columns = IMAGE_SHAPE
    x = np.arange(columns, dtype="float32")[None, :]
    faces = {}
    for subject in CLASSES:
        centre = (160 + rng.integers(-12, 13), 125 + rng.integers(-8, 9))
        size = (rng.integers(45, 62), rng.integers(62, 80))
        tone = int(rng.integers(110, 180))
        hair = int(rng.integers(20, 90))
        eye_gap = int(rng.integers(16, 26))
        texture = np.asarray(Image.fromarray(rng.uniform(0, 255, (8, 10)).astype("uint8"))
                             .resize((columns, rows), Image.Resampling.BICUBIC), "float32")
        for condition in CONDITIONS:
            canvas = Image.new("L", (columns, rows), int(rng.integers(200, 235)))
            draw = ImageDraw.Draw(canvas)
            cx, cy = centre[0] + rng.integers(-3, 4), centre[1] + rng.integers(-3, 4)
            w, h = size
            draw.ellipse((cx - w - 4, cy - h - 12, cx + w + 4, cy + h // 3), fill=hair)
            draw.ellipse((cx - w, cy - h, cx + w, cy + h), fill=tone)
            eye_height = {"sleepy": 1, "wink": 1, "surprised": 6}.get(condition, 4)
            for side in (-1, 1):
                shut = condition == "wink" and side == 1
                draw.ellipse((cx + side * eye_gap - 7, cy - 20 - (1 if shut else eye_height),
                              cx + side * eye_gap + 7, cy - 20 + (1 if shut else eye_height)),
                             fill=40)
                if condition == "glasses":
                    draw.ellipse((cx + side * eye_gap - 13, cy - 31, cx + side * eye_gap + 13,
                                  cy - 9), outline=15, width=3)
            mouth = {"happy": (12, 0, 180), "sad": (12, 180, 360), "surprised": (9, 0, 360)}
            span, start, end = mouth.get(condition, (14, 0, 180))
            draw.arc((cx - span, cy + 22, cx + span, cy + 42), start, end, fill=50, width=3)
            image = np.asarray(canvas.filter(ImageFilter.GaussianBlur(1.5)), "float32")
            image = image * (0.85 + 0.3 * texture / 255)
            if condition in ("leftlight", "rightlight"):
                ramp = x / columns if condition == "leftlight" else 1 - x / columns
                image *= 0.3 + 0.9 * ramp
            elif condition == "centerlight":
                image = image * 1.15 + 10
            image += rng.normal(0, 3, image.shape)
            faces[f"{subject}.{condition}"] = np.clip(image, 0, 255).astype("uint8")
    for original, copy in IDENTICAL_IMAGES:
        faces[copy] = faces[original]
    return faces
