"""The classic baselines, Eigenfaces + 1-NN and Fisherfaces (PCA + LDA + 1-NN): their PCA
size is chosen by the same inner cross-validation on the same selection sets as the networks',
then they are fitted on each outer fold's training images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from pipeline.experiments.yalefaces.processed import Processed, held_out_images, training_images


def nearest_neighbour(train: np.ndarray, labels: np.ndarray, test: np.ndarray) -> np.ndarray:
    distances = ((test[:, None, :] - train[None, :, :]) ** 2).sum(axis=-1)
    return labels[distances.argmin(axis=1)]


def classify_projected(method: str, train: np.ndarray, labels: np.ndarray,
                       test: np.ndarray) -> np.ndarray:
    """1-NN on PCA projections (Eigenfaces), or on their LDA projections (Fisherfaces)."""
    if method != "eigenfaces_1nn":
        lda = LinearDiscriminantAnalysis().fit(train, labels)
        train, test = lda.transform(train), lda.transform(test)
    return nearest_neighbour(train, labels, test)


def inner_correct(method: str, x: np.ndarray, y: np.ndarray, inner: np.ndarray,
                  candidates: Sequence[int]) -> np.ndarray:
    """Per candidate PCA size, the images the inner cross-validation classifies right; sizes
    a fold cannot support (>= its training images) count as wrong."""
    correct = np.zeros(len(candidates))
    for fold in np.unique(inner):
        train, validation = inner != fold, inner == fold
        pca = PCA(min(max(candidates), int(train.sum()) - 1), svd_solver="full").fit(x[train])
        z_train, z_validation = pca.transform(x[train]), pca.transform(x[validation])
        for index, k in enumerate(candidates):
            if k <= pca.n_components_:
                predicted = classify_projected(method, z_train[:, :k], y[train],
                                               z_validation[:, :k])
                correct[index] += (predicted == y[validation]).sum()
    return correct


def choose_components(method: str, x: np.ndarray, y: np.ndarray, inner: np.ndarray,
                      candidates: Sequence[int]) -> int:
    """The candidate PCA size with the best inner cross-validation accuracy (smallest on a
    tie)."""
    return int(candidates[int(np.argmax(inner_correct(method, x, y, inner, candidates)))])


def baseline_predictions(data: Processed, candidates: Sequence[int]) -> list[pd.DataFrame]:
    """Eigenfaces + 1-NN and Fisherfaces (PCA + LDA + 1-NN), their PCA size chosen by the
    inner cross-validation of each outer fold's selection set, and classic Fisherfaces (PCA
    to N - c, no choice), fitted on each outer fold's training images."""
    x, y = data.features, data.labels
    chosen: dict[tuple[str, str], int] = {}
    rows = []
    for repeat, protocol, fold, name in data.outer_folds():
        train = training_images(data.folds, repeat, protocol, fold)
        held_out = held_out_images(data.folds, repeat, protocol, fold)
        for method in ("eigenfaces_1nn", "fisherfaces", "fisherfaces_classic"):
            if method == "fisherfaces_classic":
                k = len(train) - len(np.unique(y[train]))
            else:
                if (method, name) not in chosen:
                    members = data.members(name)
                    images = members["image"].to_numpy()
                    chosen[method, name] = choose_components(
                        method, x[images], y[images], members["inner_fold"].to_numpy(),
                        candidates)
                k = chosen[method, name]
            pca = PCA(k, svd_solver="full").fit(x[train])
            predicted = classify_projected(method.removesuffix("_classic"), pca.transform(
                x[train]), y[train], pca.transform(x[held_out]))
            rows.append(pd.DataFrame({"repeat": repeat, "protocol": protocol, "method": method,
                                      "image": held_out, "actual": y[held_out],
                                      "predicted": predicted, "components": k}))
    return rows
