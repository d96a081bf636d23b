"""explain@clustering: for each pair and colour mode, the test images' two-number codes (first
seed, as K-means sees them) coloured by their true class, over the K-means clusters' regions;
and one chart of the test ARI of the autoencoder beside the two baselines."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pipeline.core.context import Metrics, StageContext
from pipeline.core.errors import PipelineError
from pipeline.core.outputs import read_json
from pipeline.core.runner import main
from pipeline.experiments.clustering.clusters import METHODS, FittedKMeans, scores
from pipeline.experiments.clustering.data import load_pair_split, pair_classes
from pipeline.experiments.clustering.layout import load_clusterings, read_models_list
from pipeline.experiments.clustering.model import encode, load_encoder
from pipeline.experiments.clustering.params import EXPERIMENT
from pipeline.ml.plots import save_figure
from pipeline.ml.splits import stratified_subset


def explain(ctx: StageContext) -> Metrics:
    drawn: dict[tuple[str, str], float] = {}
    for run in read_models_list(ctx.paths.model):
        key = (run["task"], run["mode"])
        if key in drawn:  # the first seed of each
            continue
        x_test, y_test = load_pair_split(ctx.paths.processed, run["task"], "test", run["mode"])
        folder = ctx.paths.model / run["folder"]
        kmeans = load_clusterings(folder).autoencoder
        shown = stratified_subset(y_test, ctx.params.explain.points, ctx.seed)
        codes = encode(load_encoder(folder), x_test[shown])
        drawn[key] = scores(y_test[shown], kmeans.assign(codes))["ari"]
        code_scatter(ctx.out / f"codes_{run['task']}_{run['mode']}.png", codes, y_test[shown],
                     kmeans, pair_classes(ctx.paths.processed, run["task"]),
                     f"{run['task']}, {run['mode']}, seed {run['seed']}: "
                     f"ARI {drawn[key]:.3f} on the {len(shown)} images shown")
    details = read_json(ctx.paths.details_file("evaluate"))
    if details is None:
        raise PipelineError(f"{ctx.paths.details_file('evaluate')} is missing: run the "
                            "evaluate stage first")
    ari_chart(ctx.out / "ari_summary.png", details)
    return {"figures": len(drawn) + 1}


def code_scatter(path: Path, codes: np.ndarray, labels: np.ndarray, kmeans: FittedKMeans,
                 classes: list[str], title: str) -> None:
    """The codes in K-means's space (standardised when it was), the clusters' regions shaded
    and their boundary drawn."""
    plane = (codes - kmeans.shift) / kmeans.scale
    low, high = plane.min(axis=0), plane.max(axis=0)
    margin = 0.05 * (high - low) + 1e-9
    xs, ys = (np.linspace(low[i] - margin[i], high[i] + margin[i], 300) for i in (0, 1))
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    regions = FittedKMeans(np.zeros(2), np.ones(2), kmeans.centres).assign(grid)
    figure, axis = plt.subplots(figsize=(6.5, 5.5))
    axis.contourf(xs, ys, regions.reshape(len(ys), len(xs)), levels=[-0.5, 0.5, 1.5],
                  colors=["#dde8f5", "#f7e3d3"])
    axis.contour(xs, ys, regions.reshape(len(ys), len(xs)), levels=[0.5], colors="black",
                 linewidths=1)
    for label, name in enumerate(classes):
        chosen = labels == label
        axis.scatter(*plane[chosen].T, s=6, alpha=0.6, label=name)
    axis.scatter(*kmeans.centres.T, marker="x", s=80, c="black", label="K-means centres")
    scaled = bool(np.any(kmeans.scale != 1))
    axis.set(xlabel="code[0]" + (" (standardised)" if scaled else ""),
             ylabel="code[1]" + (" (standardised)" if scaled else ""), title=title)
    axis.title.set_fontsize(9)
    axis.legend(markerscale=2, fontsize=8)
    save_figure(figure, path)


def ari_chart(path: Path, details: dict) -> None:
    """Test ARI, mean and standard deviation over seeds, per pair and colour mode."""
    groups = sorted(details)
    figure, axis = plt.subplots(figsize=(max(5.0, 1.6 * len(groups) + 2), 4))
    width = 0.8 / len(METHODS)
    for index, method in enumerate(METHODS):
        axis.bar(np.arange(len(groups)) + (index - 1) * width,
                 [details[group][method]["ari_mean"] for group in groups], width,
                 yerr=[details[group][method]["ari_std"] for group in groups], capsize=3,
                 label={"autoencoder": "autoencoder codes", "pca": "PCA(2)",
                        "pixels": "raw pixels"}[method])
    axis.set_xticks(range(len(groups)), groups, rotation=20, ha="right", fontsize=8)
    axis.set(ylabel="test adjusted Rand index", title="K-means (k = 2) on ...")
    axis.axhline(0, color="grey", linewidth=0.8)
    axis.legend(fontsize=8)
    save_figure(figure, path)


if __name__ == "__main__":
    main(EXPERIMENT, "explain", explain)
