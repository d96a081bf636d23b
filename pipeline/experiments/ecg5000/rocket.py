"""ROCKET's random convolution features as a Keras layer, and its ridge classifier as a Keras
model (Dempster, Petitjean and Webb 2020, "ROCKET: exceptionally fast and accurate time series
classification using random convolutional kernels").

Many fixed random kernels, each with its own length, dilation and padding, turn a series
into features per kernel: the maximum of its response over time and, with ``max_ppv``,
ROCKET's proportion of positive values of the response plus a random bias. The second is a
step function of the input, which integrated gradients cannot account for; the explain stage
explains these models with Shapley values instead. The maximum ignores the bias (it would only
shift the feature by a constant), so the two feature sets share their kernels and maxima.
``max_ppv_diff`` gives half of the kernels the series' first difference instead, as
MultiRocket does (Tan et al. 2022): slopes rather than levels.
The kernels are never trained; the classifier on top of them is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

import keras
import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.preprocessing import StandardScaler

KERNEL_LENGTHS = (7, 9, 11)
FEATURE_BATCH = 256  # series per convolution call: bounds the memory of the responses
Features = Literal["max", "max_ppv", "max_ppv_diff"]
FEATURE_SETS: tuple[Features, ...] = ("max", "max_ppv", "max_ppv_diff")
Kernels = list[tuple[int, bool, np.ndarray]]


def random_kernels(count: int, series_length: int, seed: int | list[int]) -> Kernels:
    """ROCKET's kernel draw, grouped for convolution: a list of (dilation, padded, weights of
    shape (length, 1, kernels)). Per kernel: length 7, 9 or 11; weights normal and centred;
    dilation 2^u, u uniform up to what the series length allows; zero padding on half of them
    (their response then covers the ends of the series too)."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple[int, int, bool], list[np.ndarray]] = defaultdict(list)
    for _ in range(count):
        length = int(rng.choice(KERNEL_LENGTHS))
        weights = rng.normal(size=length)
        largest = max((series_length - 1) / (length - 1), 1.0)
        dilation = int(2 ** rng.uniform(0, np.log2(largest)))
        padded = bool(rng.integers(2))
        groups[(length, dilation, padded)].append(weights - weights.mean())
    return [
        (dilation, padded, np.stack(kernels, axis=1)[:, None, :].astype("float32"))
        for (_, dilation, padded), kernels in sorted(groups.items())
    ]


@keras.saving.register_keras_serializable(package="pipeline")
class RandomConvolutionFeatures(keras.layers.Layer):
    """(batch, time, 1) → (batch, kernels) maxima, or with ``features="max_ppv"`` (batch,
    2 * kernels): the maxima, then the proportions of positive values of each response plus
    its kernel's bias, uniform(-1, 1) as in ROCKET. ``max_ppv_diff``: the same with the last
    ``kernels // 2`` kernels on the first difference of the series (maxima: series kernels,
    then difference kernels; proportions likewise).

    The kernels follow from ``(kernels, seed)`` and the series length, so they are not stored
    as weights: the saved model rebuilds the same ones. The biases come from a stream of their
    own, so a seed gives the same kernels and maxima with ``max`` and ``max_ppv``; the kernels
    on the difference come from a third stream.
    """

    def __init__(self, kernels: int, seed: int, features: Features = "max",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if features not in FEATURE_SETS:
            raise ValueError(f"features: one of {FEATURE_SETS}, got {features!r}")
        self.kernels = kernels
        self.seed = seed
        self.features = features
        self._banks: list[tuple[bool, Kernels, list[np.ndarray]]] = []  # (on_difference, ..)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if input_shape[-1] != 1 or input_shape[1] is None:
            raise ValueError(
                f"{self.name}: expects (batch, time, 1) with a known length, got {input_shape}"
            )
        length = int(input_shape[1])
        on_difference = self.kernels // 2 if self.features == "max_ppv_diff" else 0
        self._banks = [self._bank(False, self.kernels - on_difference, length, [self.seed, 1])]
        if on_difference:
            self._banks.append(self._bank(True, on_difference, length - 1, [self.seed, 3]))

    def _bank(self, on_difference: bool, count: int, length: int, bias_seed: list[int]
              ) -> tuple[bool, Kernels, list[np.ndarray]]:
        groups = random_kernels(count, length, [self.seed, 2] if on_difference else self.seed)
        biases = np.random.default_rng(bias_seed).uniform(-1, 1, count).astype("float32")
        sizes = [weights.shape[2] for _, _, weights in groups]
        return on_difference, groups, np.split(biases, np.cumsum(sizes)[:-1])

    def call(self, inputs: Any) -> Any:
        maxima, proportions = [], []
        for on_difference, groups, bank_biases in self._banks:
            series = inputs[:, 1:] - inputs[:, :-1] if on_difference else inputs
            for (dilation, padded, weights), biases in zip(groups, bank_biases, strict=True):
                response = keras.ops.conv(
                    series, keras.ops.convert_to_tensor(weights, dtype=inputs.dtype),
                    padding="same" if padded else "valid", dilation_rate=dilation,
                )
                maxima.append(keras.ops.max(response, axis=1))
                if self.features != "max":
                    bias = keras.ops.convert_to_tensor(biases, dtype=inputs.dtype)
                    positive = keras.ops.cast(keras.ops.greater(response + bias, 0), inputs.dtype)
                    proportions.append(keras.ops.mean(positive, axis=1))
        return keras.ops.concatenate(maxima + proportions, axis=-1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, int]:
        return (input_shape[0], self.kernels * (1 if self.features == "max" else 2))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kernels": self.kernels, "seed": self.seed,
                "features": self.features}


def is_random_kernel_model(model: keras.Model) -> bool:
    """Whether ``model`` is ROCKET's (which loading and explaining treat apart)."""
    return any(isinstance(layer, RandomConvolutionFeatures) for layer in model.layers)


@dataclass(frozen=True)
class RidgeFit:
    model: keras.Model
    alpha: float  # the chosen ridge strength
    squared_error: float  # mean squared error on the ±1 indicators of the fitted samples
    loo_squared_error: float  # the same, leave-one-out (what chose ``alpha``)


def fit_random_kernel_classifier(
    x: np.ndarray, labels: np.ndarray, classes: int, *, kernels: int, seed: int,
    alphas: list[float], features: Features = "max", name: str = "random_kernel_classifier",
) -> RidgeFit:
    """ROCKET's classifier as one Keras model: the random-kernel features (``features``) of
    ``x`` (batch, time, 1), standardised with their statistics on ``x``, then a linear layer
    holding a ridge regression of the ±1 class indicators (ROCKET's ``RidgeClassifierCV``:
    scikit-learn's solver, its strength chosen from ``alphas`` by efficient leave-one-out on
    ``x``).

    The model answers with the ridge scores as logits: their argmax is the ridge classifier's
    prediction and their order ranks samples for ROC curves, but their softmax is not a
    calibrated probability.
    """
    bank = RandomConvolutionFeatures(kernels, seed=seed, features=features,
                                     name="random_kernels")
    table = np.concatenate([
        keras.ops.convert_to_numpy(bank(x[start:start + FEATURE_BATCH]))
        for start in range(0, len(x), FEATURE_BATCH)
    ]).astype("float64")
    scaler = StandardScaler().fit(table)
    targets = np.where(np.eye(classes)[labels] > 0, 1.0, -1.0)
    standardised_features = scaler.transform(table)
    ridge = RidgeCV(alphas=alphas).fit(standardised_features, targets)
    inputs = keras.Input(x.shape[1:], name="series")
    standardised = keras.layers.Normalization(
        mean=scaler.mean_, variance=scaler.scale_**2, name="standardise")(bank(inputs))
    readout = keras.layers.Dense(classes, name="ridge")
    model = keras.Model(inputs, readout(standardised), name=name)
    readout.set_weights([ridge.coef_.T.astype("float32"), ridge.intercept_.astype("float32")])
    squared_error = float(np.mean((ridge.predict(standardised_features) - targets) ** 2))
    # RidgeCV's score is the negative leave-one-out squared error, averaged over samples and
    # indicators
    return RidgeFit(model, float(ridge.alpha_), squared_error, float(-ridge.best_score_))
