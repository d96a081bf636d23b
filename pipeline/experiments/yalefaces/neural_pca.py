"""Principal components learned by a neural network with a Hebbian rule, and how to compare
them with PCA.

:class:`HebbianPCA` is a linear Keras layer ``y = (x - mean) @ W`` (optionally divided by each
unit's output standard deviation: whitened components). Its weights are not trained by
gradient descent but by one of two Hebbian rules, applied to centred data:

* ``sanger`` — the generalized Hebbian algorithm (Sanger 1989): unit j learns from the input
  minus what units 1..j reconstruct, ``dW = x^T y - W triu(y^T y)``, so the units converge to
  the principal components *in order*;
* ``oja`` — Oja's symmetric subspace rule, ``dW = x^T y - W (y^T y)``: every unit learns from
  the same reconstruction error, so the units converge to an orthonormal basis of the top-k
  subspace (any rotation of the components).

The course report's version could not work: its weights all started at one (every unit the
same direction), the data were not centred, and its step size was arbitrary. Here the start is
a random orthonormal matrix, the data are centred with the training mean, and each unit's step
is ``step / p_j`` where ``p_j`` is the mean power of the signal the unit learns from (the
residual after the earlier units for Sanger, the whole input for Oja; at least
``POWER_FLOOR`` of the input's power). ``p_j`` bounds the
largest eigenvalue that unit can meet, so ``step <= 1`` keeps the rule stable; for Sanger it
also lets later, weaker components learn as fast as the first ones instead of ``lambda_1 /
lambda_j`` times slower.

Updates are full-batch (the mean Hebbian update over the training images), compiled for the
Keras backend in use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras import ops

from pipeline.experiments.yalefaces.params import HebbianParams, Rule

POWER_FLOOR = 1e-4  # of the total input power


@keras.saving.register_keras_serializable(package="pipeline")
class HebbianPCA(keras.layers.Layer):
    """``(x - mean) @ components / scale``: a linear layer whose weights a Hebbian rule sets
    (see :func:`fit_hebbian`); gradient descent never changes them."""

    def __init__(self, units: int, rule: Rule = "sanger", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.rule = rule

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        features = int(input_shape[-1])
        self.mean = self.add_weight(shape=(features,), initializer="zeros", trainable=False,
                                    name="mean")
        self.components = self.add_weight(shape=(features, self.units), initializer="zeros",
                                          trainable=False, name="components")
        self.scale = self.add_weight(shape=(self.units,), initializer="ones", trainable=False,
                                     name="scale")

    def call(self, inputs: Any) -> Any:
        return ops.matmul(inputs - self.mean, self.components) / self.scale

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "rule": self.rule}

    # -- plain arrays, for analysis and plots ----------------------------------------------
    def basis(self) -> np.ndarray:
        """The learned components as columns, (features, units)."""
        return ops.convert_to_numpy(self.components)

    def set_basis(self, mean: np.ndarray, components: np.ndarray, scale: np.ndarray) -> None:
        if not self.built:
            self.build((None, len(mean)))
        self.mean.assign(mean.astype("float32"))
        self.components.assign(components.astype("float32"))
        self.scale.assign(scale.astype("float32"))


def hebbian_update(centred: Any, weights: Any, rule: Rule, step: float) -> tuple[Any, Any]:
    """One full-batch Hebbian update of ``weights`` (features, units) on ``centred`` data
    (samples, features). Returns the new weights and the largest absolute change."""
    samples = ops.cast(ops.shape(centred)[0], centred.dtype)
    outputs = ops.matmul(centred, weights)
    covariance = ops.matmul(ops.transpose(outputs), outputs) / samples
    total_power = ops.sum(centred * centred) / samples
    if rule == "sanger":
        feedback = ops.triu(covariance)
        # mean |x - sum_{i<j} y_i w_i|^2 for every unit j, from the output covariance and the
        # Gram matrix of the weights (exact even while the weights are not yet orthonormal)
        gram = ops.matmul(ops.transpose(weights), weights)
        earlier = ops.tril(ops.ones_like(covariance), k=-1)  # row j: ones at units i < j
        explained = ops.matmul(earlier, ops.diagonal(covariance)[:, None])[:, 0]
        cross = ops.sum(ops.matmul(earlier, covariance * gram) * earlier, axis=1)
        power = total_power - 2.0 * explained + cross
    else:
        feedback = covariance
        power = ops.ones_like(ops.diagonal(covariance)) * total_power
    hebbian = ops.matmul(ops.transpose(centred), outputs) / samples
    # the floor guards against float32 cancellation in ``power`` once the earlier units
    # explain nearly everything (a set of n images has only n - 1 components)
    power = ops.maximum(power, POWER_FLOOR * total_power)
    change = step * (hebbian - ops.matmul(weights, feedback)) / power
    return weights + change, ops.max(ops.abs(change))


def _compiled(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` compiled for the current backend (the update runs thousands of times)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function)
    if backend == "jax":
        import jax

        return jax.jit(function)
    return function


def fit_hebbian(
    x: np.ndarray, params: HebbianParams, *, seed: int, log_every: int = 100
) -> tuple[HebbianPCA, pd.DataFrame]:
    """A :class:`HebbianPCA` layer learned on ``x`` (samples, features) by ``params.rule``.

    The data are centred with their own mean; the weights start as a random orthonormal
    matrix (seeded). Returns the layer and its learning history (every ``log_every``
    updates: the largest weight change and the variance each unit captures in total).
    """
    if params.components > min(x.shape):
        raise ValueError(
            f"{params.components} components asked of {x.shape[0]} samples with "
            f"{x.shape[1]} features: at most {min(x.shape)} exist"
        )
    mean = x.mean(axis=0, dtype="float64").astype("float32")
    centred = ops.convert_to_tensor((x - mean).astype("float32"))
    start = np.random.default_rng(seed).standard_normal((x.shape[1], params.components))
    weights = ops.convert_to_tensor(np.linalg.qr(start)[0].astype("float32"))
    update = _compiled(lambda c, w: hebbian_update(c, w, params.rule, params.step))
    rows = []
    for iteration in range(1, params.iterations + 1):
        weights, change = update(centred, weights)
        done = float(change) < params.tolerance or iteration == params.iterations
        if done or iteration % log_every == 0:
            basis = ops.convert_to_numpy(weights)
            rows.append({
                "iteration": iteration,
                "max_weight_change": float(change),
                "captured_variance": float(unit_variances(x, mean, basis).sum()),
                "orthonormality_error": float(np.abs(basis.T @ basis - np.eye(basis.shape[1]))
                                              .max()),
            })
        if done:
            break
    basis = ops.convert_to_numpy(weights)
    if not np.isfinite(basis).all():
        raise ArithmeticError(f"the {params.rule} rule diverged on {x.shape[0]} samples; "
                              "lower the step or ask for fewer components")
    variances = unit_variances(x, mean, basis)
    scale = np.sqrt(np.maximum(variances, 1e-12)) if params.whiten else np.ones_like(variances)
    layer = HebbianPCA(params.components, params.rule)
    layer.set_basis(mean, basis, scale)
    return layer, pd.DataFrame(rows)


def unit_variances(x: np.ndarray, mean: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """The variance of each unit's output over ``x``."""
    outputs = (x - mean) @ basis
    return (outputs**2).mean(axis=0)


def principal_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The principal angles (degrees, ascending) between the column spaces of ``a`` and
    ``b`` (features, k): 0 everywhere when they span the same subspace.

    In float64, small angles from their sines (Bjorck & Golub): arccos of a cosine near 1
    cannot resolve angles below a few hundredths of a degree.
    """
    qa, _ = np.linalg.qr(np.asarray(a, dtype="float64"))
    qb, _ = np.linalg.qr(np.asarray(b, dtype="float64"))
    overlap = qa.T @ qb
    cosines = np.clip(np.linalg.svd(overlap, compute_uv=False), 0.0, 1.0)  # descending
    sines = np.clip(np.linalg.svd(qb - qa @ overlap, compute_uv=False), 0.0, 1.0)[::-1]
    angles = np.where(cosines > np.sqrt(0.5), np.arcsin(sines[: len(cosines)]),
                      np.arccos(cosines))
    return np.degrees(angles)
