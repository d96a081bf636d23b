"""K-means fitted on training points and applied to new ones, the two baselines (raw pixels,
PCA(2)), and the scores of a clustering against the true classes.

A clustering's cluster numbers are arbitrary, so accuracy is taken under the best one-to-one
matching of clusters to classes (the Hungarian algorithm on the contingency table); the
adjusted Rand index needs no matching and is 0 in expectation for a random assignment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.cluster import contingency_matrix

CLUSTERS = 2
METHODS = ("autoencoder", "pca", "pixels")  # what each clustering runs K-means on


def clustering_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """The fraction of points whose cluster is matched to their class, under the matching of
    clusters to classes that makes it largest."""
    table = contingency_matrix(labels, clusters)
    rows, columns = linear_sum_assignment(table, maximize=True)
    return float(table[rows, columns].sum() / len(labels))


def scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    return {"ari": float(adjusted_rand_score(labels, clusters)),
            "accuracy": clustering_accuracy(labels, clusters)}


@dataclass(frozen=True)
class FittedKMeans:
    """K-means centres in a space where points are first shifted and scaled (by the training
    points' mean and standard deviation, or by 0 and 1 to use them as they are)."""

    shift: np.ndarray
    scale: np.ndarray
    centres: np.ndarray

    @classmethod
    def fit(cls, points: np.ndarray, *, standardise: bool, restarts: int, seed: int
            ) -> FittedKMeans:
        dimensions = points.shape[1]
        shift = points.mean(axis=0) if standardise else np.zeros(dimensions)
        scale = points.std(axis=0) + 1e-12 if standardise else np.ones(dimensions)
        kmeans = KMeans(CLUSTERS, n_init=restarts, random_state=seed).fit((points - shift) / scale)
        return cls(shift, scale, kmeans.cluster_centers_.astype("float64"))

    def assign(self, points: np.ndarray) -> np.ndarray:
        """The nearest centre of each point (what ``KMeans.predict`` returns)."""
        scaled = (points - self.shift) / self.scale
        # |x - c|^2 without the |x|^2 every centre shares: no (N, k, D) array for pixels
        distances = (self.centres**2).sum(axis=1)[None] - 2 * scaled @ self.centres.T
        return distances.argmin(axis=1)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_shift": self.shift, f"{prefix}_scale": self.scale,
                f"{prefix}_centres": self.centres}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> FittedKMeans:
        return cls(*(arrays[f"{prefix}_{part}"] for part in ("shift", "scale", "centres")))


@dataclass(frozen=True)
class Projection:
    """PCA(2) of the training pixels: ``(x - mean) @ components.T``."""

    mean: np.ndarray
    components: np.ndarray

    @classmethod
    def fit(cls, pixels: np.ndarray, seed: int) -> Projection:
        pca = PCA(2, random_state=seed).fit(pixels)
        return cls(pca.mean_.astype("float64"), pca.components_.astype("float64"))

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return (pixels - self.mean) @ self.components.T


@dataclass(frozen=True)
class Clusterings:
    """The three clusterings of one pair, colour mode and seed, fitted on the same training
    images: K-means on the autoencoder's codes, on PCA(2) of the pixels, on the pixels."""

    autoencoder: FittedKMeans
    projection: Projection
    pca: FittedKMeans
    pixels: FittedKMeans

    @classmethod
    def fit(cls, codes: np.ndarray, pixels: np.ndarray, *, standardise_codes: bool,
            restarts: int, seed: int) -> Clusterings:
        """``codes``: the autoencoder's (N, 2); ``pixels``: the same images flattened."""
        projection = Projection.fit(pixels, seed)
        return cls(
            FittedKMeans.fit(codes, standardise=standardise_codes, restarts=restarts, seed=seed),
            projection,
            FittedKMeans.fit(projection(pixels), standardise=standardise_codes,
                             restarts=restarts, seed=seed),
            FittedKMeans.fit(pixels, standardise=False, restarts=restarts, seed=seed))

    def assign(self, codes: np.ndarray, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """Each method's cluster of each image."""
        return {"autoencoder": self.autoencoder.assign(codes),
                "pca": self.pca.assign(self.projection(pixels)),
                "pixels": self.pixels.assign(pixels)}

    def arrays(self) -> dict[str, np.ndarray]:
        return {**{key: value for method in METHODS
                   for key, value in getattr(self, method).arrays(method).items()},
                "projection_mean": self.projection.mean,
                "projection_components": self.projection.components}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Clusterings:
        return cls(FittedKMeans.from_arrays(arrays, "autoencoder"),
                   Projection(arrays["projection_mean"], arrays["projection_components"]),
                   FittedKMeans.from_arrays(arrays, "pca"),
                   FittedKMeans.from_arrays(arrays, "pixels"))
