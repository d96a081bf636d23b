"""The neural PCA (Sanger's rule) of every selection set: learned by tune, saved beside its
choices, loaded by train, evaluate and explain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from keras import ops

from pipeline.experiments.yalefaces.neural_pca import HebbianPCA, fit_hebbian
from pipeline.experiments.yalefaces.params import HebbianParams

BASES_FILE = "bases.npz"


def fit_set_basis(x: np.ndarray, params: HebbianParams, *, seed: int) -> tuple[
        HebbianPCA, pd.DataFrame]:
    """Sanger's rule on a selection set. A set of n images has only n - 1 components, and the
    last of them carry almost no variance: the rule learns them slowly and, next to the rank
    limit, unstably. So at most n / 2 are learned (the two-subject sets have about 20 images)
    and the rest are zero columns: every set offers the networks the same number of inputs."""
    learnable = min(params.components, len(x) // 2)
    layer, history = fit_hebbian(x, params.model_copy(update={"components": learnable}),
                                 seed=seed)
    if learnable == params.components:
        return layer, history
    missing = params.components - learnable
    padded = HebbianPCA(params.components, params.rule)
    scale = np.pad(ops.convert_to_numpy(layer.scale), (0, missing), constant_values=1.0)
    padded.set_basis(ops.convert_to_numpy(layer.mean),
                     np.pad(layer.basis(), ((0, 0), (0, missing))), scale)
    return padded, history


def save_bases(path: Path, bases: dict[str, HebbianPCA]) -> None:
    arrays = {}
    for name, layer in bases.items():
        arrays[f"{name}.mean"] = ops.convert_to_numpy(layer.mean)
        arrays[f"{name}.components"] = layer.basis()
        arrays[f"{name}.scale"] = ops.convert_to_numpy(layer.scale)
    np.savez(path, **arrays)


def load_bases(path: Path) -> dict[str, HebbianPCA]:
    bases = {}
    with np.load(path) as arrays:
        for name in sorted({key.rsplit(".", 1)[0] for key in arrays.files}):
            components = arrays[f"{name}.components"]
            layer = HebbianPCA(components.shape[1], "sanger", name=f"neural_pca_{name}")
            layer.set_basis(arrays[f"{name}.mean"], components, arrays[f"{name}.scale"])
            bases[name] = layer
    return bases

