"""The series-parallel NARX network: an MLP from the regressors ``[x[k], x[k-1], x[k-2],
y[k-1], y[k-2]]`` to ``y[k]`` (the report's: one hidden layer of sigmoid units, Adam, MSE),
and the linear model its Jacobian reads off it.

Inputs and target are standardised inside the model (with the training split's statistics),
so the network sees values near zero, where sigmoids are informative, whatever the range of
the data; the Jacobian is then taken with respect to the raw regressors.
"""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner as kt
import numpy as np
from keras import layers

from pipeline.ml.search_space import hyperparameter


def build_narx(hp: kt.HyperParameters, space: dict[str, Any], x_train: np.ndarray,
               y_train: np.ndarray) -> keras.Model:
    """Standardise → Dense(units, activation) → Dense(1) → de-standardise, compiled with Adam
    on the mean squared error."""
    inputs = keras.Input((x_train.shape[1],), name="regressors")
    x = layers.Normalization(mean=x_train.mean(axis=0), variance=x_train.var(axis=0),
                             name="standardise")(inputs)
    x = layers.Dense(hyperparameter(hp, "units", space),
                     activation=hyperparameter(hp, "activation", space), name="hidden")(x)
    x = layers.Dense(1, name="standardised_output")(x)
    outputs = layers.Normalization(mean=[y_train.mean()], variance=[y_train.var()],
                                   invert=True, name="output")(x)
    model = keras.Model(inputs, outputs, name="narx")
    model.compile(optimizer=keras.optimizers.Adam(hyperparameter(hp, "learning_rate", space)),
                  loss="mse")
    return model


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return model.predict(x, batch_size=4096, verbose=0).reshape(-1)


def jacobian(model: keras.Model, at: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """d y / d regressor at each row of ``at`` (shape (rows, 5)), by central differences of
    half-width 1e-2 times each regressor's ``scale`` (its spread): the network is smooth, and
    differences need no backend-specific autodiff. For a linear system these are its
    coefficients."""
    steps = 1e-2 * np.asarray(scale, dtype=float)
    probes = []
    for column, step in enumerate(steps):
        offset = np.zeros(at.shape[1])
        offset[column] = step
        probes += [at + offset, at - offset]
    values = predict(model, np.concatenate(probes).astype("float32")).reshape(
        len(steps), 2, len(at))
    return ((values[:, 0] - values[:, 1]) / (2 * steps[:, None])).T
