"""A frozen ImageNet backbone (the report's ResNet50) with the weights the download stage
fetched (:mod:`.weights`): its features computed once, and the classifier rebuilt in one graph
(backbone + trained head) for Grad-CAM."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from keras import ops

from pipeline.experiments.cifar10.model import backbone_head, logits_layer
from pipeline.experiments.cifar10.params import BackboneParams, ModelParams

log = logging.getLogger(__name__)

BACKBONES: dict[str, Callable[..., keras.Model]] = {
    "resnet50": keras.applications.ResNet50,
    # small, for tests of the code path (its weights made by the test)
    "mobilenet_025": functools.partial(keras.applications.MobileNet, alpha=0.25),
}
LAST_CONV = {"resnet50": "conv5_block3_out", "mobilenet_025": "conv_pw_13_relu"}


def build_backbone(params: BackboneParams, inputs: keras.KerasTensor,
                   weights: Path | None) -> keras.Model:
    """The backbone on ``inputs`` (preprocessed images), frozen; ImageNet weights from
    ``weights`` (None: unset, for counting parameters only)."""
    backbone = BACKBONES[params.architecture](weights=None, include_top=False,
                                              input_tensor=inputs)
    if weights is not None:
        backbone.load_weights(weights)
    backbone.trainable = False
    return backbone


def full_classifier(model: ModelParams, weights: Path | None) -> keras.Model:
    """Preprocessed image -> backbone -> head -> logits, in one flat graph (the backbone's
    layers are the model's, so Grad-CAM can reach its last block)."""
    size = model.backbone.input_size
    inputs = keras.Input((size, size, 3), name="image")
    backbone = build_backbone(model.backbone, inputs, weights)
    logits = logits_layer(backbone_head(backbone.output, model.head))
    return keras.Model(inputs, logits, name=f"cifar10_{model.backbone.architecture}_head")


def with_trained_head(model: ModelParams, weights: Path, head: keras.Model) -> keras.Model:
    """:func:`full_classifier` with the ImageNet backbone and the head trained on its
    features (copied layer by layer, by name)."""
    full = full_classifier(model, weights)
    for layer in head.layers:
        if layer.weights:
            full.get_layer(layer.name).set_weights(layer.get_weights())
    return full


def prepare(images: np.ndarray, params: BackboneParams) -> np.ndarray:
    """uint8 (N, 32, 32, 3) -> float32 at the backbone's side, in its preprocessing (caffe:
    BGR minus the ImageNet mean, as keras.applications.resnet.preprocess_input)."""
    size = params.input_size
    resized = ops.image.resize(images.astype("float32"), (size, size), interpolation="bilinear")
    return keras.applications.imagenet_utils.preprocess_input(
        ops.convert_to_numpy(resized), mode=params.preprocessing)


def features(backbone: keras.Model, images: np.ndarray, params: BackboneParams,
             batch_size: int) -> np.ndarray:
    """The backbone's output maps for ``images``, float16 (7x7x2048 per image for ResNet50
    at 224: 200 kB each, so that 60,000 fit on disk and in memory)."""
    parts = []
    for start in range(0, len(images), batch_size):
        batch = prepare(images[start : start + batch_size], params)
        maps = backbone([batch], training=False)  # its inputs are a list (input_tensor)
        parts.append(ops.convert_to_numpy(maps).astype("float16"))
        if start // batch_size % 20 == 0:
            log.info("backbone features: %d / %d images", start + len(batch), len(images))
    return np.concatenate(parts)
