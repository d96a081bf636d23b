"""Stand-in radiographs for synthetic mode and tests: 16-bit wrist-like images in the real
files' format, the positives carrying a fracture-like mark whose box is recorded (so a test can
check that the model, and Grad-CAM, find it)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.experiments.grazpedwri_dx.layout import MARK_COLUMNS


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))


def render_radiograph(
    height: int, width: int, fracture: bool, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """A 16-bit stand-in wrist radiograph and, with ``fracture``, the box (x0, y0, x1, y1) of
    the fracture-like mark drawn across the distal radius.

    A tilted forearm (soft tissue, radius and ulna with brighter cortices), carpal and
    metacarpal bones, noise, a random exposure (offset and gain), an unexposed collimator
    edge and a saturated burned-in side marker: things the preprocessing must cope with.
    The mark is a dark gap across the radius with a bright ridge beside it.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    tilt = rng.uniform(-0.15, 0.15)
    dx, dy = xx - width * rng.uniform(0.42, 0.58), yy - height * 0.5
    across = dx * np.cos(tilt) - dy * np.sin(tilt)
    along = dx * np.sin(tilt) + dy * np.cos(tilt)
    arm = width * rng.uniform(0.28, 0.34)
    tissue = _sigmoid((arm - np.abs(across)) / 3.0)
    wrist = height * rng.uniform(-0.08, 0.04)
    radius_at, radius_half = -0.38 * arm, arm * rng.uniform(0.22, 0.27)
    ulna_at, ulna_half = 0.42 * arm, arm * rng.uniform(0.15, 0.19)

    def shaft(at: float, half: float) -> np.ndarray:
        distance = np.abs(across - at)
        body = _sigmoid((half - distance) / 1.2)
        cortex = 0.35 * np.exp(-(((half - distance) / (0.25 * half)) ** 2))
        return (0.65 + cortex) * body

    bones = (shaft(radius_at, radius_half) * _sigmoid((along - wrist) / 2.0)
             + shaft(ulna_at, ulna_half) * _sigmoid((along - wrist - 0.03 * height) / 2.0))
    for _ in range(int(rng.integers(5, 8))):  # carpal bones
        ex, ey = rng.uniform(-0.6, 0.6) * arm, wrist - rng.uniform(0.03, 0.16) * height
        rx, ry = rng.uniform(0.12, 0.2) * arm, rng.uniform(0.025, 0.04) * height
        bones += 0.7 * _sigmoid((1 - ((across - ex) / rx) ** 2 - ((along - ey) / ry) ** 2) * 6)
    for k in range(4):  # metacarpals
        bones += 0.6 * (_sigmoid((0.09 * arm - np.abs(across - (-0.55 + 0.37 * k) * arm)) / 1.2)
                        * _sigmoid((wrist - 0.19 * height - along) / 2.0))
    box = None
    if fracture:
        level = wrist + rng.uniform(0.06, 0.22) * height
        thickness = max(3.0, 0.05 * height)
        line = np.abs((along - level) - rng.uniform(-0.5, 0.5) * (across - radius_at))
        in_bone = np.abs(across - radius_at) < radius_half * 1.15
        gap, ridge = (line < thickness / 2) & in_bone, (line >= thickness / 2) & (
            line < thickness) & in_bone
        bones = np.where(gap, bones * 0.15, bones) + 0.35 * ridge
        rows, cols = np.nonzero(gap | ridge)
        box = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
    image = 0.18 * tissue + 0.55 * bones + rng.normal(0.0, 0.02, (height, width))
    pixels = rng.uniform(1500, 8000) + rng.uniform(30000, 52000) * image
    pixels[:, : int(rng.integers(0, max(1, width // 12)))] = 0  # collimator edge
    marker_h, marker_w = max(4, height // 18), max(6, width // 9)
    top = int(rng.integers(2, max(3, height // 6)))
    left = int(rng.integers(width - width // 4, max(width - width // 4 + 1, width - marker_w - 1)))
    pixels[top : top + marker_h, left : left + marker_w] = 65535  # burned-in side marker
    return np.clip(np.round(pixels), 0, 65535).astype(np.uint16), box


def write_standins(
    folder: Path, frame: pd.DataFrame, stems: Sequence[str], longest_side: int,
    rng: np.random.Generator, *, real_images: Path | None = None,
) -> pd.DataFrame:
    """``folder/<stem>.png`` for every stem: the real radiograph from ``real_images`` when it
    is there, else a stand-in (with a mark when the row's label is 1). Returns the marks."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = frame.set_index("filestem")["label"]
    marks = []
    for stem in stems:
        real = real_images / f"{stem}.png" if real_images is not None else None
        if real is not None and real.is_file():
            shutil.copyfile(real, folder / f"{stem}.png")
            continue
        height = int(longest_side * rng.uniform(0.85, 1.0))
        pixels, box = render_radiograph(height, int(height * rng.uniform(0.6, 0.8)),
                                        bool(labels[stem]), rng)
        Image.fromarray(pixels).save(folder / f"{stem}.png")
        if box is not None:
            marks.append({"filestem": stem, **dict(zip(MARK_COLUMNS, box, strict=True))})
    return pd.DataFrame(marks, columns=["filestem", *MARK_COLUMNS])
