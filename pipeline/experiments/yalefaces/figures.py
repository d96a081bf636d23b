"""Line plots of the neural PCAs' explained variance (evaluate and explain)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def line_plot(path: Path, x: np.ndarray, series: dict[str, np.ndarray], x_label: str,
              y_label: str, title: str, *, log_y: bool = False) -> None:
    figure, axis = plt.subplots(figsize=(6, 4))
    for label, values in series.items():
        axis.plot(x[: len(values)], values, label=label)
    axis.set(title=title, xlabel=x_label, ylabel=y_label, yscale="log" if log_y else "linear")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
