"""explain@echo: the figures. ERLE over the test record for every canceller, with the echo
path's change marked (tracking); and the echo path each identified, against the true one,
before and after the change."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from pipeline.core.context import Metrics, StageContext
from pipeline.core.runner import main
from pipeline.experiments.echo.layout import CURVES_FILE, FILTERS, PATHS_FILE, TUNED
from pipeline.experiments.echo.params import EXPERIMENT
from pipeline.ml.plots import save_figure


def explain(ctx: StageContext) -> Metrics:
    curves = pd.read_csv(ctx.paths.evaluate / CURVES_FILE)
    plot_erle(curves, ctx.params.download.change_at, ctx.params.download.echo_to_noise_db,
              ctx.out / "erle_over_time.png")
    paths = pd.read_csv(ctx.paths.evaluate / PATHS_FILE)
    plot_paths(paths, ctx.out / "identified_echo_paths.png")
    return {"figures": 2}


def plot_erle(curves: pd.DataFrame, change_at: int | None, echo_to_noise_db: float,
              path: Path) -> None:
    figure, axis = plt.subplots(figsize=(11, 4))
    for name in FILTERS:
        axis.plot(curves["sample"], curves[name], linewidth=1.2, label=name)
    axis.axhline(echo_to_noise_db, color="k", linestyle=":", linewidth=1,
                 label="echo-to-noise ratio (the ceiling)")
    if change_at is not None:
        axis.axvline(change_at, color="tab:red", linestyle="--", linewidth=1,
                     label="echo path changes")
    axis.set(title="echo return loss enhancement over the test record", xlabel="sample",
             ylabel="ERLE (dB)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, ncol=3)
    save_figure(figure, path)


def plot_paths(paths: pd.DataFrame, path: Path) -> None:
    segments = [column.removeprefix("true_") for column in paths if column.startswith("true_")]
    figure, axes = plt.subplots(1, len(segments), figsize=(6 * len(segments), 3.8),
                                squeeze=False)
    for axis, segment in zip(axes.flat, segments, strict=True):
        axis.plot(paths["tap"], paths[f"true_{segment}"], color="0.5", linewidth=3,
                  label="true path")
        for name in TUNED:
            axis.plot(paths["tap"], paths[f"{name}_{segment}"], linewidth=1, label=name)
        axis.set(title=f"identified echo path, end of the {segment} segment", xlabel="tap")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    save_figure(figure, path)


if __name__ == "__main__":
    main(EXPERIMENT, "explain", explain)
