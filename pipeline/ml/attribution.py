"""Which inputs drive a prediction: Grad-CAM for convolutional models, saliency and integrated
gradients for any model. Shared by every dataset.

Models follow one convention: their output is the class *logits* (softmax is applied outside,
in the loss and in evaluation), so attributions are taken on the logit of a chosen class, not
on a saturated probability. Gradients go through :func:`gradient`, which works on the
TensorFlow, JAX and PyTorch backends.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from keras import ops


def gradient(function: Callable[[object], object], inputs: np.ndarray) -> np.ndarray:
    """d sum(function(inputs)) / d inputs, evaluated on the current Keras backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensor = tf.convert_to_tensor(inputs)
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            total = tf.reduce_sum(function(tensor))
        return tape.gradient(total, tensor).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda x: function(x).sum())(inputs))
    if backend == "torch":
        import torch

        tensor = torch.tensor(inputs, requires_grad=True)
        function(tensor).sum().backward()
        return tensor.grad.detach().cpu().numpy()
    raise NotImplementedError(f"gradients on the {backend!r} backend")


def _selected_logits(logits: object, classes: np.ndarray) -> object:
    """Each row's logit of its own class (one class per image, never the batch's first)."""
    return ops.take_along_axis(logits, ops.convert_to_tensor(classes[:, None]), axis=1)


def normalise_per_sample(maps: np.ndarray) -> np.ndarray:
    """Scale each map to [0, 1] on its own (a batch-wide scale hides weak images)."""
    flat = maps.reshape(len(maps), -1)
    low = flat.min(axis=1, keepdims=True)
    span = flat.max(axis=1, keepdims=True) - low
    return ((flat - low) / np.where(span > 0, span, 1)).reshape(maps.shape)


def grad_cam(
    model: keras.Model,
    images: np.ndarray,
    classes: np.ndarray,
    conv_layer: str,
    *,
    batch_size: int = 64,
) -> np.ndarray:
    """Grad-CAM heat maps (N, H, W) in [0, 1] at the input's resolution.

    For image i: the gradient of the logit of ``classes[i]`` with respect to the feature maps
    of ``conv_layer``, averaged over space (per image) to weight the channels; ReLU of the
    weighted sum; normalised per image; bilinearly upsampled to the input size. The part of
    the model after ``conv_layer`` must depend on it alone (true of conv stacks and
    ``keras.applications`` backbones followed by a head).
    """
    layer_output = model.get_layer(conv_layer).output
    features = keras.Model(model.input, layer_output)
    head = keras.Model(layer_output, model.outputs[0])
    height, width = images.shape[1:3]
    maps = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        chosen = np.asarray(classes[start : start + batch_size], dtype="int32")
        activations = ops.convert_to_numpy(features(batch, training=False))
        grads = gradient(
            lambda a, c=chosen: _selected_logits(head(a, training=False), c), activations
        )
        weights = grads.mean(axis=(1, 2), keepdims=True)
        cam = np.maximum((weights * activations).sum(axis=-1), 0)
        upsampled = ops.image.resize(cam[..., None], (height, width), interpolation="bilinear")
        maps.append(ops.convert_to_numpy(upsampled)[..., 0])
    return normalise_per_sample(np.concatenate(maps)) if maps else np.zeros((0, height, width))


def saliency(model: keras.Model, inputs: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """|d logit[class] / d input| per sample, normalised per sample to [0, 1]."""
    chosen = np.asarray(classes, dtype="int32")
    grads = gradient(
        lambda x: _selected_logits(model(x, training=False), chosen), inputs.astype("float32")
    )
    return normalise_per_sample(np.abs(grads))


def integrated_gradients(
    model: keras.Model,
    inputs: np.ndarray,
    classes: np.ndarray,
    *,
    baseline: np.ndarray | None = None,
    steps: int = 32,
) -> np.ndarray:
    """Integrated gradients (Sundararajan et al. 2017) of each sample's class logit, same shape
    as ``inputs``: (input - baseline) times the mean gradient along the straight path."""
    inputs = inputs.astype("float32")
    baseline = np.zeros_like(inputs) if baseline is None else baseline.astype("float32")
    chosen = np.asarray(classes, dtype="int32")
    total = np.zeros_like(inputs)
    for alpha in (np.arange(steps, dtype="float32") + 0.5) / steps:
        point = baseline + alpha * (inputs - baseline)
        total += gradient(lambda x: _selected_logits(model(x, training=False), chosen), point)
    return (inputs - baseline) * total / steps
