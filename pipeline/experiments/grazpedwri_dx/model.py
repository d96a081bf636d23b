"""The fracture classifier: a small CNN or a ``keras.applications`` backbone under one head,
a loud warning for backbones without ImageNet weights, and the class weights."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import keras_tuner as kt
import mlflow
import numpy as np
from keras import layers

from pipeline.core.errors import DataError
from pipeline.experiments.grazpedwri_dx.layout import CLASSES, FEATURES_LAYER
from pipeline.experiments.grazpedwri_dx.params import AugmentationParams
from pipeline.ml.search_space import hyperparameter

log = logging.getLogger(__name__)

# name -> (constructor, per-channel scale, per-channel offset) mapping [0, 1] grey to its input;
# the names are params.BACKBONE_NAMES (what params accept)
BACKBONES: dict[str, tuple[Any, tuple[float, ...], tuple[float, ...]]] = {
    "mobilenet_v2": (keras.applications.MobileNetV2, (2.0,) * 3, (-1.0,) * 3),
    "efficientnet_b0": (keras.applications.EfficientNetB0, (255.0,) * 3, (0.0,) * 3),
    "resnet50": (keras.applications.ResNet50, (255.0,) * 3, (-103.939, -116.779, -123.68)),
    "densenet121": (
        keras.applications.DenseNet121,
        tuple(1 / s for s in (0.229, 0.224, 0.225)),
        tuple(-m / s for m, s in zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), strict=True)),
    ),
}


@keras.saving.register_keras_serializable(package="grazpedwri_dx")
class PositiveClassAUC(keras.metrics.AUC):
    """ROC-AUC of class 1 from a two-class logits model (softmax taken here)."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        positive = keras.ops.softmax(y_pred, axis=-1)[:, 1]
        return super().update_state(y_true, positive, sample_weight)


def build_model(
    hp: kt.HyperParameters,
    space: Mapping[str, Any],
    *,
    image_size: int,
    weights: Mapping[str, str | None],
    augmentation: AugmentationParams | None,
    seed: int,
) -> keras.Model:
    """A compiled two-class logits model: augmentation (training only), resizing to the
    searched input size, then the small CNN or a ``keras.applications`` backbone (ImageNet
    weights from ``weights[backbone]`` when given; its top ``fine_tune_layers`` layers
    trainable, batch norm frozen) with a dropout + dense head. The last feature map is the
    layer named ``features``."""
    architecture = hyperparameter(hp, "architecture", space, default="small_cnn")
    input_size = hyperparameter(hp, "input_size", space, default=image_size)
    learning_rate = hyperparameter(hp, "learning_rate", space, default=1e-3)
    dropout = hyperparameter(hp, "dropout", space, default=0.2)
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = inputs
    if augmentation is not None:
        x = layers.RandomRotation(augmentation.rotation, fill_mode="constant", seed=seed,
                                  name="rotate")(x)
        x = layers.RandomZoom(augmentation.zoom, fill_mode="constant", seed=seed + 1,
                              name="zoom")(x)
        x = layers.RandomContrast(augmentation.contrast, value_range=(0, 1), seed=seed + 2,
                                  name="contrast")(x)
        if augmentation.horizontal_flip:
            x = layers.RandomFlip("horizontal", seed=seed + 3, name="flip")(x)
    if input_size != image_size:
        x = layers.Resizing(input_size, input_size, name="resize")(x)
    if architecture == "small_cnn":
        features = small_cnn(hp, space, x)
    else:
        constructor, scale, offset = BACKBONES[architecture]
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
        x = layers.Rescaling(list(scale), offset=list(offset), name="backbone_input")(x)
        backbone = constructor(include_top=False, weights=weights.get(architecture),
                               input_shape=(input_size, input_size, 3))
        fine_tune = hyperparameter(hp, "fine_tune_layers", space, default=0)
        for index, layer in enumerate(backbone.layers):
            layer.trainable = (index >= len(backbone.layers) - fine_tune
                               and not isinstance(layer, layers.BatchNormalization))
        features = backbone(x, training=False)
    features = layers.Identity(name=FEATURES_LAYER)(features)
    pooling = hyperparameter(hp, "pooling", space, default="max")
    pool = layers.GlobalMaxPooling2D if pooling == "max" else layers.GlobalAveragePooling2D
    x = pool(name="pool")(features)
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    # One fracture score s as the two class logits (-s/2, s/2): the softmax is sigmoid(s),
    # and Grad-CAM of the fracture logit follows the evidence for fracture against none
    # (with two free logits it would also follow features that raise both).
    # (float32 even under mixed precision: the loss needs the logits' full range)
    score = layers.Dense(1, dtype="float32", name="score")(x)
    logits = layers.Concatenate(dtype="float32", name="logits")(
        [layers.Rescaling(-0.5, dtype="float32", name="no_fracture_logit")(score),
         layers.Rescaling(0.5, dtype="float32", name="fracture_logit")(score)])
    model = keras.Model(inputs, logits, name=f"grazpedwri_{architecture}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy", PositiveClassAUC(name="auc")],
    )
    return model


def small_cnn(hp: kt.HyperParameters, space: Mapping[str, Any], x: Any) -> Any:
    """Blocks of two 3x3 conv + batch norm + ReLU, doubling the filters; 2x2 max-pooling
    between blocks (not after the last, which keeps Grad-CAM's map finer). Batch norm's
    momentum is 0.9, not 0.99: on small data the slower moving statistics lag behind the
    weights for many epochs and validation scores are meaningless meanwhile."""
    blocks = hyperparameter(hp, "conv_blocks", space, default=4)
    filters = hyperparameter(hp, "filters", space, default=16)
    for block in range(1, blocks + 1):
        for conv in (1, 2):
            x = layers.Conv2D(filters * 2 ** (block - 1), 3, padding="same", use_bias=False,
                              name=f"block{block}_conv{conv}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
        if block < blocks:
            x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    return x


def warn_without_weights(architectures: Sequence[str], weights: Mapping[str, str | None]
                         ) -> list[str]:
    """Say loudly which backbones will train from scratch; return them."""
    scratch = sorted(name for name in architectures if name in BACKBONES and not weights[name])
    if scratch:
        banner = "!" * 78
        log.warning(
            "\n%s\nNO IMAGENET WEIGHTS for %s: these backbones train FROM SCRATCH (no transfer "
            "learning).\nSet tune.imagenet_weights.<backbone> to a local file or URL of the "
            "keras.applications\n'no top' weights to use them.\n%s", banner, ", ".join(scratch),
            banner)
        if mlflow.active_run() is not None:
            mlflow.set_tag("imagenet_weights_missing", ",".join(scratch))
    return scratch


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Balanced loss weights: each class contributes equally."""
    counts = np.bincount(labels, minlength=len(CLASSES))
    if np.any(counts == 0):
        raise DataError(f"the training split lacks a class (counts {counts.tolist()})")
    return {index: float(len(labels) / (len(CLASSES) * count))
            for index, count in enumerate(counts)}
