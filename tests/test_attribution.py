"""Grad-CAM and gradient attributions land on the evidence; Shapley values of segments add up
where gradients cannot (step functions)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from pipeline.ml.attribution import grad_cam, integrated_gradients, saliency
from pipeline.ml.shapley import segment_shapley

PATCH = (slice(4, 10), slice(16, 22))  # rows, columns of the class-deciding patch


def patch_images(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noise and random distractor blobs everywhere; class 1 iff the patch is lit."""
    labels = rng.integers(0, 2, count)
    images = rng.uniform(0, 0.3, (count, 28, 28, 1)).astype("float32")
    for image, label in zip(images, labels, strict=True):
        for _ in range(2):  # distractors, in both classes, never on the patch
            row, column = rng.integers(14, 24), rng.integers(0, 12)
            image[row : row + 4, column : column + 4] = 1.0
        if label:
            image[PATCH] = 1.0
    return images, labels


@pytest.fixture(scope="module")
def patch_model() -> tuple[keras.Model, np.ndarray, np.ndarray]:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = patch_images(800, rng)
    inputs = keras.Input((28, 28, 1))
    h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    h = layers.MaxPooling2D()(h)
    h = layers.Conv2D(16, 3, padding="same", activation="relu", name="last_conv")(h)
    h = layers.GlobalMaxPooling2D()(h)
    model = keras.Model(inputs, layers.Dense(2, name="logits")(h))
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    x_test, y_test = patch_images(200, rng)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    assert accuracy > 0.95, f"the patch model did not learn the task ({accuracy:.2f})"
    return model, x_test, y_test


def patch_mass(maps: np.ndarray, margin: int = 2) -> np.ndarray:
    rows = slice(PATCH[0].start - margin, PATCH[0].stop + margin)
    columns = slice(PATCH[1].start - margin, PATCH[1].stop + margin)
    return maps[:, rows, columns].sum(axis=(1, 2)) / np.maximum(maps.sum(axis=(1, 2)), 1e-12)


def test_grad_cam_puts_most_mass_on_the_deciding_patch(patch_model) -> None:
    model, x, y = patch_model
    positives = x[y == 1]
    maps = grad_cam(model, positives, np.ones(len(positives), "int32"), "last_conv")
    assert maps.shape == positives.shape[:3]
    assert maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1)  # per-image normalised
    share = patch_mass(maps)
    area_share = (10 * 10) / (28 * 28)  # what a uniform map would give
    assert np.median(share) > 0.5 > 3 * area_share / 2
    assert np.mean(share > 0.5) > 0.8


def test_each_image_is_explained_for_its_own_class(patch_model) -> None:
    model, x, _ = patch_model
    classes = np.array([1, 0, 1, 0], "int32")
    together = grad_cam(model, x[:4], classes, "last_conv")
    one_by_one = np.concatenate(
        [grad_cam(model, x[i : i + 1], classes[i : i + 1], "last_conv") for i in range(4)]
    )
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    flipped = grad_cam(model, x[:4], 1 - classes, "last_conv")
    assert not np.allclose(together, flipped, atol=1e-3)


def test_gradient_attributions_highlight_the_patch(patch_model) -> None:
    model, x, y = patch_model
    positives = x[y == 1][:16]
    ones = np.ones(len(positives), "int32")
    maps = saliency(model, positives, ones)[..., 0]
    assert np.median(patch_mass(maps)) > 3 * (10 * 10) / (28 * 28)
    attributions = integrated_gradients(model, positives, ones, steps=16)
    # completeness: attributions add up to logit(input) - logit(baseline)
    logits = keras.ops.convert_to_numpy(model(positives))[:, 1]
    baseline = keras.ops.convert_to_numpy(model(np.zeros_like(positives)))[:, 1]
    np.testing.assert_allclose(attributions.sum(axis=(1, 2, 3)), logits - baseline, rtol=0.1,
                               atol=0.2)


def step_model(steps: int, weights: np.ndarray, smooth: bool) -> keras.Model:
    """One logit: sum_t weights_t * [x_t > 0.5] (a step function of each entry), plus
    max_t x_t when ``smooth`` (something for gradients to follow); the second logit is 0."""
    inputs = keras.Input((steps, weights.shape[1]))
    flat = layers.Flatten()(inputs)
    steps_on = layers.Lambda(lambda x: keras.ops.cast(keras.ops.greater(x, 0.5), "float32"))(flat)
    logit = layers.Dense(1, use_bias=False, trainable=False, name="step")(steps_on)
    if smooth:
        logit = layers.Add()([logit, layers.Lambda(
            lambda x: keras.ops.max(x, axis=1, keepdims=True))(flat)])
    model = keras.Model(inputs, layers.Concatenate()([logit, keras.ops.zeros_like(logit)]))
    model.get_layer("step").set_weights([weights.reshape(-1, 1)])
    return model


def logit_gain(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """logit(x) - logit(0) of class 0: what the attributions of each sample must add up to."""
    return (keras.ops.convert_to_numpy(model(x))[:, 0]
            - keras.ops.convert_to_numpy(model(np.zeros_like(x)))[:, 0])


def test_segment_shapley_values_of_an_additive_step_model_are_exact() -> None:
    """Additive over entries: each segment's value is its entries' step gains, whatever the
    order, spread evenly over its entries (23 steps in segments of 5: the last has 3)."""
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(23, 2)).astype("float32")
    x = rng.uniform(0, 1, (6, 23, 2)).astype("float32")
    values = segment_shapley(step_model(23, weights, smooth=False), x, np.zeros(6, "int64"),
                             segment=5, permutations=3, rng=np.random.default_rng(1))
    assert values.shape == x.shape
    gains = weights * (x > 0.5)  # each entry's step, taken alone
    for start in range(0, 23, 5):
        block = values[:, start:start + 5]
        segment_value = gains[:, start:start + 5].sum(axis=(1, 2))
        np.testing.assert_allclose(
            block, np.broadcast_to(segment_value[:, None, None] / block[0].size, block.shape),
            atol=1e-6)


def test_one_antithetic_pair_splits_a_pairwise_interaction_evenly() -> None:
    """logit = [a > 0.5] * [b > 0.5] for samples a, b in two segments: in one order the
    later segment would take it all; with the order reversed as well, each gets half."""
    inputs = keras.Input((10, 1))
    on = layers.Lambda(lambda x: keras.ops.cast(keras.ops.greater(x, 0.5), "float32"))(inputs)
    both = layers.Lambda(lambda x: x[:, 2] * x[:, 7])(on)
    model = keras.Model(inputs, layers.Concatenate()([both, keras.ops.zeros_like(both)]))
    x = np.ones((3, 10, 1), "float32")
    values = segment_shapley(model, x, np.zeros(3, "int64"), segment=5, permutations=1,
                             rng=np.random.default_rng(0))
    np.testing.assert_allclose(values[..., 0].reshape(3, 2, 5).sum(axis=2), 0.5, atol=1e-7)


def test_shapley_values_add_up_where_integrated_gradients_cannot() -> None:
    """A step function plus a maximum: integrated gradients see the maximum only, and miss
    the steps' share of logit(x) - logit(0); segment Shapley values account for all of it."""
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(40, 1)).astype("float32")
    model = step_model(40, weights, smooth=True)
    x = rng.uniform(0, 1, (8, 40, 1)).astype("float32")
    classes = np.zeros(8, "int64")
    gain = logit_gain(model, x)
    shapley = segment_shapley(model, x, classes, segment=10, permutations=2,
                              rng=np.random.default_rng(1))
    np.testing.assert_allclose(shapley.sum(axis=(1, 2)), gain, rtol=1e-5, atol=1e-5)
    gradients = integrated_gradients(model, x, classes, steps=32)
    missed = np.abs(gradients.sum(axis=(1, 2)) - gain)
    steps_share = (weights[:, 0] * (x[..., 0] > 0.5)).sum(axis=1)
    np.testing.assert_allclose(missed, np.abs(steps_share), rtol=1e-3, atol=1e-3)
    assert np.median(missed / np.abs(gain)) > 0.1
