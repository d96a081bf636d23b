"""explain@colourise: what the colourisation gets right and wrong, as pictures drawn from what
evaluate kept (explain reads no test image itself): gray input, prediction, truth and where
the chroma went wrong, for the best, the worst and random test images; the chroma error per
class and its spread over the images, model beside baselines."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pipeline.core.context import Metrics, StageContext
from pipeline.core.paths import DETAILS_FILE
from pipeline.core.runner import main
from pipeline.experiments.colourise.colour import to_lab
from pipeline.experiments.colourise.evaluation_files import (
    PANELS,
    PER_IMAGE_FILE,
    PREFIXES,
    Examples,
    load_examples,
)
from pipeline.experiments.colourise.params import EXPERIMENT
from pipeline.experiments.colourise.scores import chroma_distance
from pipeline.ml.plots import save_figure

TITLES = {"best": "lowest chroma error", "worst": "highest chroma error",
          "random": "random test images"}


def explain(ctx: StageContext) -> Metrics:
    folder = ctx.paths.evaluate
    for group, examples in load_examples(folder).items():
        plot_examples(ctx.out / f"examples_{group}.png", examples, ctx.params.explain.error_scale,
                      f"The model's {TITLES[group]}: {', '.join(PANELS)}, chroma error")
    details = json.loads((folder / DETAILS_FILE).read_text())
    plot_per_class(ctx.out / "chroma_error_per_class.png", details)
    table = pd.read_csv(folder / PER_IMAGE_FILE)
    plot_spread(ctx.out / "chroma_error_spread.png", table)
    return {f"images_better_than_{method}": float(np.mean(
        table["model_chroma_error"] < table[f"{method}_chroma_error"]))
        for method in PREFIXES if method != "model"}


def plot_examples(path: Path, examples: Examples, scale: float, title: str) -> None:
    """One row per example: its three panels and the map of its per-pixel chroma error."""
    rows = len(examples.names)
    figure, axes = plt.subplots(rows, 4, figsize=(7.2, 1.8 * rows + 0.4), squeeze=False,
                                layout="constrained")
    errors = chroma_distance(to_lab(examples.images[:, 2]), to_lab(examples.images[:, 1]))
    for row, axis_row in enumerate(axes):
        for column, axis in enumerate(axis_row[:3]):
            axis.imshow(examples.images[row, column])
        shown = axis_row[3].imshow(errors[row], cmap="magma", vmin=0, vmax=scale)
        axis_row[0].set_title(f"{examples.classes[row]}: {examples.chroma_error[row]:.1f}",
                              fontsize=7, loc="left")
        for axis in axis_row:
            axis.set_axis_off()
    figure.colorbar(shown, ax=axes[:, 3], shrink=min(1.0, 3 / rows), label="a*b* error")
    figure.suptitle(title, fontsize=9)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_per_class(path: Path, details: dict) -> None:
    classes = details["classes"]
    positions = np.arange(len(classes))
    width = 0.8 / len(PREFIXES)
    figure, axis = plt.subplots(figsize=(max(6.0, 0.7 * len(classes) + 2), 4))
    for offset, (method, prefix) in enumerate(PREFIXES.items()):
        axis.bar(positions + (offset - (len(PREFIXES) - 1) / 2) * width,
                 details[f"{prefix}chroma_error_per_class"], width, label=method)
    axis.set_xticks(positions, classes, rotation=45, ha="right")
    axis.set(ylabel="mean a*b* error (CIE Lab)", title="Chroma error per class (test images)")
    axis.legend()
    axis.grid(axis="y", alpha=0.3)
    save_figure(figure, path)


def plot_spread(path: Path, table: pd.DataFrame) -> None:
    figure, axis = plt.subplots(figsize=(6.5, 4))
    columns = [f"{method}_chroma_error" for method in PREFIXES]
    bins = np.linspace(0, float(table[columns].to_numpy().max()), 50)
    for method, column in zip(PREFIXES, columns, strict=True):
        axis.hist(table[column], bins=bins, histtype="step", label=method)
    axis.set(xlabel="image's mean a*b* error (CIE Lab)", ylabel="test images",
             title="Chroma error over the test images")
    axis.legend()
    save_figure(figure, path)


if __name__ == "__main__":
    main(EXPERIMENT, "explain", explain)
