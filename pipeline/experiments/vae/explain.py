"""explain@vae: what the model learnt, as pictures: the test images' codes coloured by class,
the decoded manifold, reconstructions and samples from the prior.

With more than two latent dimensions the codes are shown along their two principal axes
(PCA of the test images' code means), and the manifold is decoded along those axes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm
from sklearn.decomposition import PCA

from pipeline.core.context import Metrics, StageContext
from pipeline.core.runner import main
from pipeline.experiments.vae.data import CLASSES
from pipeline.experiments.vae.params import EXPERIMENT
from pipeline.experiments.vae.scoring import decode_probabilities, encode, halves, load_vae
from pipeline.ml.plots import save_figure
from pipeline.ml.split_files import load_split
from pipeline.ml.splits import stratified_subset


def explain(ctx: StageContext) -> Metrics:
    params = ctx.params.explain
    x_test, y_test = load_split(ctx.paths.processed, "test")
    encoder, decoder = halves(load_vae(ctx.paths.model))
    shown = stratified_subset(y_test, params.points, ctx.seed)
    mean, _ = encode(encoder, x_test[shown])
    axes = PCA(2, random_state=ctx.seed).fit(mean) if mean.shape[1] > 2 else None
    plane = axes.transform(mean) if axes else mean
    latent_scatter(ctx.out / "latent_space.png", plane, y_test[shown], projected=bool(axes))
    quantiles = norm.ppf(np.linspace(0.05, 0.95, params.grid_size))
    grid = np.array([[a, b] for b in quantiles[::-1] for a in quantiles])
    codes = (axes.mean_ + grid * np.sqrt(axes.explained_variance_) @ axes.components_
             if axes else grid)
    tiles(ctx.out / "manifold.png", decode_probabilities(decoder, codes), params.grid_size,
          "Decoded manifold" + (" along the codes' two principal axes" if axes else ""))
    first = shown[: params.images]
    reconstructed = decode_probabilities(decoder, encode(encoder, x_test[first])[0])
    tiles(ctx.out / "reconstructions.png",
          np.concatenate([x_test[first][..., 0], reconstructed]), len(first),
          "Test images (top) and the decoded means of their codes (bottom)")
    prior = ctx.rng("prior samples").standard_normal((params.images, mean.shape[1]))
    tiles(ctx.out / "prior_samples.png", decode_probabilities(decoder, prior),
          int(np.ceil(np.sqrt(params.images))), "Decoded samples from the prior N(0, I)")
    return {"latent_dim": int(mean.shape[1]),
            "plane_variance_explained": float(axes.explained_variance_ratio_.sum())
            if axes else 1.0}


def latent_scatter(path: Path, plane: np.ndarray, labels: np.ndarray, *, projected: bool) -> None:
    figure, axis = plt.subplots(figsize=(7.5, 6))
    for label, name in enumerate(CLASSES):
        chosen = labels == label
        axis.scatter(*plane[chosen].T, s=4, alpha=0.6, label=name)
    names = ("principal axis 1", "principal axis 2") if projected else ("z[0]", "z[1]")
    axis.set(xlabel=names[0], ylabel=names[1],
             title="Test images' code means" + (" (PCA)" if projected else ""))
    axis.legend(markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    save_figure(figure, path)


def tiles(path: Path, images: np.ndarray, columns: int, title: str) -> None:
    """Images side by side on one canvas, ``columns`` per row."""
    rows = int(np.ceil(len(images) / columns))
    canvas = np.ones((rows * 28, columns * 28))
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        canvas[row * 28:(row + 1) * 28, column * 28:(column + 1) * 28] = image
    figure, axis = plt.subplots(figsize=(max(4, columns * 0.6), max(2.5, rows * 0.6 + 0.5)))
    axis.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    axis.set_axis_off()
    axis.set_title(title, fontsize=9)
    save_figure(figure, path)


if __name__ == "__main__":
    main(EXPERIMENT, "explain", explain)
