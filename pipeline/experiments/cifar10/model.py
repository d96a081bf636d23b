"""CIFAR-10's classifiers, every size read from the search space: the searched GAP CNN (the
default), the report's two-layer CNN, and heads on a frozen backbone's features. Inputs are
uint8 images (rescaled inside the model) or backbone features; outputs are logits."""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner as kt
from keras import layers

from pipeline.core.errors import ParamsError
from pipeline.datasets.cifar10 import CLASSES
from pipeline.experiments.cifar10.params import AugmentationParams, ModelParams
from pipeline.ml.schedules import scheduled_learning_rate
from pipeline.ml.search_space import hyperparameter

IMAGE_SHAPE = (32, 32, 3)
CAM_FEATURES = "cam_features"  # the last conv maps, which CAM and Grad-CAM read
POOLING = "gap"
LOGITS = "logits"


def augment(x: Any, augmentation: AugmentationParams | None) -> Any:
    """Random flips, rotations and shifts, active in training only (reflected borders)."""
    if augmentation is None:
        return x
    if augmentation.flip:
        x = layers.RandomFlip(augmentation.flip, name="flip")(x)
    if augmentation.rotation:
        x = layers.RandomRotation(augmentation.rotation, fill_mode="reflect", name="rotate")(x)
    if augmentation.translation:
        x = layers.RandomTranslation(augmentation.translation, augmentation.translation,
                                     fill_mode="reflect", name="translate")(x)
    return x


def gap_cnn(hp: kt.HyperParameters, space: dict[str, Any], x: Any, dtype: str) -> Any:
    """``stages`` stages of ``convs_per_stage`` 3x3 conv-BN-ReLU, ``filters`` doubling per
    stage, 2x2 max-pool between stages; global average pooling and one dense layer to the
    logits, so that the class score is linear in the last maps (CAM). The convolutions
    compute in ``dtype``; the maps CAM reads and everything after them in float32."""
    stages = hyperparameter(hp, "stages", space)
    convs = hyperparameter(hp, "convs_per_stage", space)
    filters = hyperparameter(hp, "filters", space)
    for stage in range(1, stages + 1):
        if stage > 1:
            x = layers.MaxPooling2D(name=f"stage{stage}_pool")(x)
        for conv in range(1, convs + 1):
            x = layers.Conv2D(filters * 2 ** (stage - 1), 3, padding="same", use_bias=False,
                              dtype=dtype, name=f"stage{stage}_conv{conv}")(x)
            x = layers.BatchNormalization(momentum=0.9, dtype=dtype,
                                          name=f"stage{stage}_bn{conv}")(x)
            x = layers.Activation("relu", dtype=dtype, name=f"stage{stage}_relu{conv}")(x)
    x = layers.Identity(dtype="float32", name=CAM_FEATURES)(x)
    x = layers.GlobalAveragePooling2D(name=POOLING)(x)
    return layers.Dropout(hyperparameter(hp, "dropout", space), name="dropout")(x)


def report_cnn(x: Any) -> Any:
    """The report's CNN: Conv2D(32, 3x3) -> MaxPool2 -> Conv2D(64, 3x3) -> MaxPool2 ->
    Flatten (ReLU, valid padding: 42,442 parameters with the dense logits)."""
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.Identity(name=CAM_FEATURES)(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    return layers.Flatten(name="flatten")(x)


def backbone_head(x: Any, head: str) -> Any:
    """The layers on a backbone's feature maps. ``conv_pool`` is the report's ResNet50 head
    (Conv2D(64, 3x3, valid) -> MaxPool2 -> Flatten: 1,182,282 parameters with the logits on
    7x7x2048 maps); ``flatten`` for maps too small for a 3x3 convolution."""
    if head == "conv_pool":
        x = layers.Conv2D(64, 3, activation="relu", name="head_conv")(x)
        x = layers.MaxPooling2D(name="head_pool")(x)
    return layers.Flatten(name="head_flatten")(x)


def logits_layer(x: Any) -> Any:
    return layers.Dense(len(CLASSES), name=LOGITS)(x)


def compile_classifier(model: keras.Model, learning_rate: float, weight_decay: float,
                       decay_steps: int | None = None) -> keras.Model:
    """Adam (the report's), or AdamW when ``weight_decay`` is set; a loss on the logits. With
    ``decay_steps`` the rate follows a cosine from ``learning_rate`` to zero over that many
    steps."""
    learning_rate = scheduled_learning_rate(learning_rate, decay_steps)
    optimizer = (keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
                 if weight_decay else keras.optimizers.Adam(learning_rate))
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def build_classifier(hp: kt.HyperParameters, space: dict[str, Any], model: ModelParams,
                     augmentation: AugmentationParams | None,
                     input_shape: tuple[int, ...] = IMAGE_SHAPE,
                     decay_steps: int | None = None) -> keras.Model:
    """The model ``model.architecture`` names, compiled (Adam, logits). ``input_shape``: the
    image's, or the cached features' for ``backbone_head``; ``decay_steps``: see
    :func:`compile_classifier`."""
    if model.architecture == "backbone_head":
        if augmentation is not None:
            raise ParamsError("cifar10.train.augmentation must be null for backbone_head: "
                              "the head trains on cached features, not on images")
        inputs = keras.Input(input_shape, name="features")
        x = backbone_head(inputs, model.head)
    else:
        inputs = keras.Input(input_shape, name="image")
        x = augment(layers.Rescaling(1 / 255, name="rescale")(inputs), augmentation)
        x = (gap_cnn(hp, space, x, "mixed_bfloat16" if model.bfloat16 else "float32")
             if model.architecture == "gap_cnn" else report_cnn(x))
    network = keras.Model(inputs, logits_layer(x), name=f"cifar10_{model.architecture}")
    return compile_classifier(network, hyperparameter(hp, "learning_rate", space),
                              hyperparameter(hp, "weight_decay", space, default=0.0),
                              decay_steps)
