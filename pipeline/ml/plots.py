"""PNG figures: confusion matrices, curves and image galleries."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def save_figure(figure: plt.Figure, path: Path) -> None:
    """Lay out, write as a PNG and free the figure."""
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], path: Path) -> None:
    size = max(4.0, 0.55 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), value in np.ndenumerate(matrix):
        axes.text(
            column,
            row,
            str(value),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if value > threshold else "black",
        )
    save_figure(figure, path)


def curves(path: Path, panels: Sequence[tuple[str, np.ndarray, np.ndarray, str, str]]) -> None:
    """One panel per (title, x, y, x label, y label)."""
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4))
    for axis, (title, x, y, x_label, y_label) in zip(np.atleast_1d(axes), panels, strict=True):
        axis.plot(x, y)
        axis.set(title=title, xlabel=x_label, ylabel=y_label, xlim=(0, 1), ylim=(0, 1.02))
        axis.grid(alpha=0.3)
    save_figure(figure, path)


def image_gallery(
    path: Path,
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    *,
    overlays: Sequence[np.ndarray] | None = None,
    columns: int = 8,
    suptitle: str | None = None,
) -> None:
    """A grid of grayscale images, each optionally overlaid with a heat map in [0, 1]."""
    count = max(len(images), 1)
    columns = min(columns, count)
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 2.1 * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= len(images):
            continue
        axis.imshow(np.squeeze(images[index]), cmap="gray")
        if overlays is not None:
            axis.imshow(overlays[index], cmap="jet", alpha=0.45, vmin=0, vmax=1)
        axis.set_title(titles[index], fontsize=7)
    if not len(images):
        axes.flat[0].text(0.5, 0.5, "none", ha="center", va="center")
    if suptitle:
        figure.suptitle(suptitle, fontsize=10)
    save_figure(figure, path)
