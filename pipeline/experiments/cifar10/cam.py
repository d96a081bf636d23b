"""Class activation maps (Zhou et al. 2016) of a model whose logits are a dense layer on the
global average of its last conv maps: logit_c = sum_k w_kc mean_xy A_k(x, y) + b_c, so the
map sum_k w_kc A_k(x, y) is where class c's score comes from. Grad-CAM's channel weights are
then w_kc / (H W) exactly, and the two maps are proportional (tests/test_cifar10.py)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from pipeline.experiments.cifar10.model import CAM_FEATURES, LOGITS, POOLING
from pipeline.ml.attribution import normalise_per_sample


def cam_applies(model: keras.Model) -> bool:
    """Whether the logits are dense(GAP(the CAM maps)) (dropout between them is inactive at
    inference): the searched CNN, not the report's flattening models."""
    names = {layer.name for layer in model.layers}
    return {CAM_FEATURES, POOLING, LOGITS} <= names


def class_activation_maps(model: keras.Model, images: np.ndarray, classes: np.ndarray, *,
                          batch_size: int = 64) -> np.ndarray:
    """CAM of ``classes[i]`` for image i, (N, H, W) at the input's resolution: ReLU, bilinear
    upsampling and per-image scaling to [0, 1], as :func:`pipeline.ml.attribution.grad_cam`
    does, so the two compare pixel for pixel."""
    features = keras.Model(model.input, model.get_layer(CAM_FEATURES).output)
    kernel = ops.convert_to_numpy(model.get_layer(LOGITS).kernel).astype("float32")
    height, width = images.shape[1:3]
    maps = []
    for start in range(0, len(images), batch_size):
        chosen = np.asarray(classes[start : start + batch_size], dtype="int64")
        activations = ops.convert_to_numpy(features(images[start : start + batch_size],
                                                    training=False)).astype("float32")
        cam = np.maximum(np.einsum("nhwk,kn->nhw", activations, kernel[:, chosen]), 0)
        upsampled = ops.image.resize(cam[..., None], (height, width), interpolation="bilinear")
        maps.append(ops.convert_to_numpy(upsampled)[..., 0])
    return normalise_per_sample(np.concatenate(maps)) if maps else np.zeros((0, height, width))


def map_correlation(first: np.ndarray, second: np.ndarray) -> float | None:
    """Mean Pearson correlation of paired maps (1: the same maps up to scale)."""
    values = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(first, second, strict=True)
              if a.std() > 0 and b.std() > 0]
    return float(np.mean(values)) if values else None
