"""ROCKET's random convolution features as a Keras layer, against a plain NumPy reading of the
same kernels, and its ridge classifier as a Keras model, against scikit-learn's."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.linear_model import RidgeClassifierCV
from sklearn.preprocessing import StandardScaler

from pipeline.experiments.ecg5000.rocket import (
    RandomConvolutionFeatures,
    fit_random_kernel_classifier,
    random_kernels,
)


def numpy_responses(x: np.ndarray, groups: list) -> list[list[np.ndarray]]:
    """Per kernel, per series: the response, by ``np.correlate`` with the kernel spread out by
    its dilation (zeros between the taps), zero padding where asked."""
    responses = []
    for dilation, padded, weights in groups:
        for kernel in weights[:, 0, :].T:
            spread = np.zeros((len(kernel) - 1) * dilation + 1)
            spread[::dilation] = kernel
            pad = (len(spread) - 1) // 2 if padded else 0
            responses.append([np.correlate(np.pad(series, pad), spread, mode="valid")
                              for series in x])
    return responses


def numpy_maxima(x: np.ndarray, groups: list) -> np.ndarray:
    return np.array([[r.max() for r in kernel] for kernel in numpy_responses(x, groups)]).T


def rocket_biases(kernels: int, seed: int) -> np.ndarray:
    """ROCKET's bias per kernel, in the layer's column order (the order of its draw)."""
    return np.random.default_rng([seed, 1]).uniform(-1, 1, kernels).astype("float32")


def test_the_kernel_draw_follows_rocket_and_the_seed() -> None:
    groups = random_kernels(500, 140, seed=3)
    assert sum(weights.shape[2] for _, _, weights in groups) == 500
    for dilation, _, weights in groups:
        taps = weights.shape[0]
        assert taps in (7, 9, 11) and dilation >= 1
        assert (taps - 1) * dilation <= 139  # an unpadded kernel still fits the series
        np.testing.assert_allclose(weights.sum(axis=0), 0, atol=1e-5)  # centred weights
    assert {padded for _, padded, _ in groups} == {True, False}
    assert max(dilation for dilation, _, _ in groups) > 8  # dilations reach far apart samples
    same = random_kernels(500, 140, seed=3)
    assert all(np.array_equal(a[2], b[2]) for a, b in zip(groups, same, strict=True))
    other = random_kernels(500, 140, seed=4)
    assert not all(np.array_equal(a[2], b[2]) for a, b in zip(groups, other, strict=False))


def test_the_layer_computes_each_kernels_maximum_response() -> None:
    x = np.random.default_rng(0).normal(size=(6, 140)).astype("float32")
    layer = RandomConvolutionFeatures(300, seed=1)
    features = keras.ops.convert_to_numpy(layer(x[..., None]))
    expected = numpy_maxima(x.astype("float64"), random_kernels(300, 140, seed=1))
    assert features.shape == (6, 300)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)


def test_the_maxima_do_not_change_with_the_proportions_beside_them() -> None:
    """Same seed, same kernels: the biases are drawn from a stream of their own."""
    x = np.random.default_rng(2).normal(size=(5, 140, 1)).astype("float32")
    maxima = keras.ops.convert_to_numpy(RandomConvolutionFeatures(300, seed=1)(x))
    layer = RandomConvolutionFeatures(300, seed=1, features="max_ppv")
    both = keras.ops.convert_to_numpy(layer(x))
    assert both.shape == layer.compute_output_shape(x.shape) == (5, 600)
    np.testing.assert_array_equal(both[:, :300], maxima)


def test_the_proportion_of_positive_values_is_rocket_s() -> None:
    """A flat zero series: every response is 0, so each proportion is 1 where the kernel's
    bias is positive and 0 elsewhere (the maxima are 0). Noise: the proportion of the
    response plus the bias above 0, as NumPy counts it."""
    biases = rocket_biases(300, seed=1)
    layer = RandomConvolutionFeatures(300, seed=1, features="max_ppv")
    flat = keras.ops.convert_to_numpy(layer(np.zeros((1, 140, 1), "float32")))[0]
    np.testing.assert_array_equal(flat[:300], 0)
    np.testing.assert_array_equal(flat[300:], (biases > 0).astype("float32"))
    assert 0.3 < (biases > 0).mean() < 0.7
    x = np.random.default_rng(0).normal(size=(6, 140)).astype("float32")
    proportions = keras.ops.convert_to_numpy(layer(x[..., None]))[:, 300:]
    responses = numpy_responses(x.astype("float64"), random_kernels(300, 140, seed=1))
    expected = np.array([[np.mean(r + bias > 0) for r in kernel]
                         for kernel, bias in zip(responses, biases, strict=True)]).T
    assert 0 < expected.mean() < 1 and expected.std() > 0.1
    # float32 against float64 may flip a response within rounding of -bias: rarely
    assert np.mean(np.abs(proportions - expected) > 1e-6) < 0.002


def test_half_of_the_kernels_read_the_first_difference() -> None:
    """``max_ppv_diff``: the first half are ``max_ppv``'s kernels on the series, the second
    half kernels of their own on its first difference; maxima first, then proportions."""
    x = np.random.default_rng(3).normal(size=(4, 140)).astype("float32")
    layer = RandomConvolutionFeatures(300, seed=1, features="max_ppv_diff")
    features = keras.ops.convert_to_numpy(layer(x[..., None]))
    assert features.shape == layer.compute_output_shape((4, 140, 1)) == (4, 600)
    on_series = keras.ops.convert_to_numpy(
        RandomConvolutionFeatures(150, seed=1, features="max_ppv")(x[..., None]))
    np.testing.assert_array_equal(features[:, :150], on_series[:, :150])
    np.testing.assert_array_equal(features[:, 300:450], on_series[:, 150:])
    difference = np.diff(x.astype("float64"), axis=1)
    expected = numpy_maxima(difference, random_kernels(150, 139, seed=[1, 2]))
    np.testing.assert_allclose(features[:, 150:300], expected, rtol=1e-4, atol=1e-4)
    biases = np.random.default_rng([1, 3]).uniform(-1, 1, 150).astype("float32")
    responses = numpy_responses(difference, random_kernels(150, 139, seed=[1, 2]))
    proportions = np.array([[np.mean(r + bias > 0) for r in kernel]
                            for kernel, bias in zip(responses, biases, strict=True)]).T
    assert np.mean(np.abs(features[:, 450:] - proportions) > 1e-6) < 0.002


@pytest.mark.parametrize("features", ["max", "max_ppv", "max_ppv_diff"])
def test_a_saved_model_rebuilds_the_same_kernels(tmp_path: Path, features: str) -> None:
    inputs = keras.Input((140, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(RandomConvolutionFeatures(
        100, seed=7, features=features)(inputs)))
    x = np.random.default_rng(1).normal(size=(4, 140, 1)).astype("float32")
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_the_layer_wants_one_channel_of_known_length_and_a_known_feature_set() -> None:
    with pytest.raises(ValueError, match=r"expects \(batch, time, 1\)"):
        RandomConvolutionFeatures(10, seed=0)(keras.Input((140, 2)))
    with pytest.raises(ValueError, match="features: one of"):
        RandomConvolutionFeatures(10, seed=0, features="ppv")


def test_the_classifier_is_rocket_s_ridge_classifier_as_one_keras_model(tmp_path: Path) -> None:
    """Same predictions and ridge strength as scikit-learn's RidgeClassifierCV on the same
    standardised features; and the saved model answers the same."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    t = np.arange(140)
    x = (np.sin(t[None, :] / (4.0 + 3 * labels[:, None])) + rng.normal(0, 0.8, (120, 140)))
    x = x.astype("float32")[..., None]
    alphas = [0.1, 10.0, 1000.0]
    fit = fit_random_kernel_classifier(x[::2], labels[::2], 3, kernels=200, seed=5,
                                       alphas=alphas)
    model = fit.model
    features = numpy_maxima(x[..., 0].astype("float64"), random_kernels(200, 140, seed=5))
    scaler = StandardScaler().fit(features[::2])
    reference = RidgeClassifierCV(alphas=alphas).fit(scaler.transform(features[::2]),
                                                     labels[::2])
    predicted = model.predict(x[1::2], verbose=0).argmax(axis=1)
    assert fit.alpha == reference.alpha_
    assert 0 < fit.squared_error < fit.loo_squared_error  # leave-one-out is the harder test
    np.testing.assert_array_equal(predicted, reference.predict(scaler.transform(features[1::2])))
    assert (predicted == labels[1::2]).mean() > 0.8  # the series are told apart
    model.save(tmp_path / "model.keras")
    np.testing.assert_array_equal(
        keras.models.load_model(tmp_path / "model.keras").predict(x[1::2], verbose=0).argmax(1),
        predicted)
