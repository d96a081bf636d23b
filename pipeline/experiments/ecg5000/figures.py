"""Figures of beats: a grid of beats (optionally coloured by attribution) and the class-mean
beats beside the mean attribution profile of each class."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pipeline.experiments.ecg5000.layout import SAMPLES


def plot_beats(
    path: Path,
    beats: np.ndarray,
    titles: Sequence[str],
    *,
    attributions: np.ndarray | None = None,
    columns: int = 4,
    suptitle: str | None = None,
) -> None:
    """A grid of beats; with ``attributions``, each sample is coloured by its attribution
    (red pushes towards the explained class, blue away), on a scale per beat."""
    count = max(len(beats), 1)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.3 * rows),
                                squeeze=False)
    t = np.arange(SAMPLES)
    for index, axis in enumerate(axes.flat):
        if index >= len(beats):
            axis.axis("off")
            continue
        beat = np.ravel(beats[index])
        axis.plot(t, beat, color="0.35", linewidth=0.9)
        if attributions is not None:
            values = np.ravel(attributions[index])
            scale = float(np.abs(values).max()) or 1.0
            axis.scatter(t, beat, c=values, cmap="coolwarm", vmin=-scale, vmax=scale, s=9,
                         zorder=3)
        axis.set_title(titles[index], fontsize=7)
        axis.tick_params(labelsize=6)
    if not len(beats):
        axes.flat[0].text(0.5, 0.5, "none", ha="center", va="center")
    if suptitle:
        figure.suptitle(suptitle, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_class_means(
    path: Path, beats: np.ndarray, labels: np.ndarray, names: Sequence[str],
    profiles: dict[int, np.ndarray], method: str,
) -> None:
    """Per class: the mean beat ± one standard deviation, and the mean |attribution| (by
    ``method``) of the explained test beats of that class (right axis)."""
    figure, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 2.8), squeeze=False)
    t = np.arange(SAMPLES)
    for label, (axis, name) in enumerate(zip(axes.flat, names, strict=True)):
        members = beats[labels == label].reshape(-1, SAMPLES)
        axis.set_title(f"{name} (n={len(members)})", fontsize=8)
        if len(members):
            mean, std = members.mean(axis=0), members.std(axis=0)
            axis.fill_between(t, mean - std, mean + std, color="0.85")
            axis.plot(t, mean, color="black", linewidth=1)
        if label in profiles:
            twin = axis.twinx()
            twin.plot(t, profiles[label], color="tab:red", linewidth=0.9)
            twin.set_ylim(bottom=0)
            twin.tick_params(labelsize=6, colors="tab:red")
        axis.tick_params(labelsize=6)
    figure.suptitle("Class-mean training beats ± 1 sd (black) and mean |attribution| of test "
                    f"beats (red)\n{method}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
