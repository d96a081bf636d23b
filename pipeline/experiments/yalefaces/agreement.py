"""Does the neural PCA match PCA? Principal angles and explained variances of the learned
bases against scikit-learn's PCA of the same images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from pipeline.core.context import Metrics
from pipeline.experiments.yalefaces.bases import BASES_FILE, load_bases
from pipeline.experiments.yalefaces.figures import line_plot
from pipeline.experiments.yalefaces.neural_pca import principal_angles, unit_variances
from pipeline.experiments.yalefaces.processed import ALL_IMAGES, Processed
from pipeline.experiments.yalefaces.trained import OJA_FILE


def neural_pca_agreement(data: Processed, models: Path, top: int, out: Path) -> Metrics:
    """Principal angles and explained variances of the neural PCAs vs scikit-learn's PCA on
    the same images: Sanger and Oja on all images, and Sanger on every selection set."""
    bases = load_bases(models / BASES_FILE)
    oja = load_bases(models / OJA_FILE)["oja"]
    x = data.features
    pca = PCA(bases[ALL_IMAGES].units, svd_solver="full").fit(x)
    reference = pca.components_.T
    total = ((x - pca.mean_) ** 2).sum(axis=1).mean()
    pca_share = unit_variances(x, pca.mean_, reference) / total
    sanger = bases[ALL_IMAGES].basis()
    sanger_share = unit_variances(x, pca.mean_, sanger) / total
    oja_share = np.sort(unit_variances(x, pca.mean_, oja.basis()))[::-1] / total
    k, k_oja = min(top, sanger.shape[1]), min(top, oja.units)
    angles = principal_angles(sanger[:, :k], reference[:, :k])
    pd.DataFrame({
        "component": np.arange(1, len(pca_share) + 1),
        "pca": pca_share,
        "sanger": sanger_share,
        "oja_sorted": np.pad(oja_share, (0, len(pca_share) - len(oja_share)),
                             constant_values=np.nan),
    }).to_csv(out / "explained_variance.csv", index=False)
    line_plot(out / "explained_variance_per_component.png", np.arange(1, len(pca_share) + 1),
              {"PCA": pca_share, "Sanger (GHA)": sanger_share},
              "component", "share of the variance", "Explained variance per component",
              log_y=True)
    set_angles = {}
    for name, layer in bases.items():  # the components each set learned (at most n / 2)
        images = data.members(name)["image"].to_numpy()
        learned = min(k, len(images) // 2)
        reference_set = PCA(learned, svd_solver="full").fit(x[images]).components_.T
        set_angles[name] = float(principal_angles(layer.basis()[:, :learned],
                                                  reference_set).max())
    return {
        f"sanger_max_angle_top{k}_degrees": float(angles.max()),
        f"sanger_max_angle_top{sanger.shape[1]}_degrees": float(
            principal_angles(sanger, reference).max()),
        f"sanger_max_variance_error_top{k}": float(
            np.abs(sanger_share[:k] / pca_share[:k] - 1).max()),
        f"oja_max_angle_top{k_oja}_degrees": float(
            principal_angles(oja.basis()[:, :k_oja], reference[:, :k_oja]).max()),
        f"oja_subspace_variance_error_top{k_oja}": float(
            abs(oja_share[:k_oja].sum() / pca_share[:k_oja].sum() - 1)),
        f"selection_sets_max_angle_top{k}_degrees": max(set_angles.values()),
        "selection_sets_angle_above_2_degrees": sum(angle > 2 for angle in set_angles.values()),
    }

