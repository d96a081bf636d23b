"""MNIST's CNN: conv blocks, dense layers and logits, every size read from the search space."""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner as kt
from keras import layers

from pipeline.experiments.mnist.data import CLASSES, IMAGE_SIZE
from pipeline.experiments.mnist.params import AugmentationParams
from pipeline.ml.schedules import scheduled_learning_rate
from pipeline.ml.search_space import hyperparameter


def build_cnn(
    hp: kt.HyperParameters,
    space: dict[str, Any],
    augmentation: AugmentationParams | None,
    decay_steps: int | None = None,
) -> keras.Model:
    """Conv blocks → dense layers → logits, every size read from the search space; Adam at
    the searched rate, cosine-decayed to zero over ``decay_steps`` steps when given.

    Each block is ``convs_per_block`` same-padded convolutions (optionally batch-normalised)
    and a 2x2 max-pool while the feature map is at least 2x2, so every depth in the space
    builds (the original 5-block space shrank 28x28 to nothing). Blocks may set their own
    ``filters_<i>`` and dense layers ``units_<i>``; otherwise ``filters``/``units`` apply
    (one value per block, or one for all blocks with ``shared_filters: true``).
    """
    blocks = hyperparameter(hp, "conv_blocks", space)
    convs = hyperparameter(hp, "convs_per_block", space, default=1)
    kernel = hyperparameter(hp, "kernel_size", space, default=3)
    batch_norm = hyperparameter(hp, "batch_norm", space, default=False)
    activation = hyperparameter(hp, "activation", space, default="relu")
    shared_filters = hyperparameter(hp, "shared_filters", space, default=False)
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = inputs
    if augmentation is not None:
        x = layers.RandomRotation(augmentation.rotation, fill_mode="constant", name="rotate")(x)
        x = layers.RandomTranslation(
            augmentation.translation,
            augmentation.translation,
            fill_mode="constant",
            name="translate",
        )(x)
        x = layers.RandomZoom(augmentation.zoom, fill_mode="constant", name="zoom")(x)
    size = IMAGE_SIZE
    for block in range(1, blocks + 1):
        filters = (
            hyperparameter(hp, "filters", space)
            if shared_filters
            else hyperparameter(hp, f"filters_{block}", space, default=space.get("filters"))
        )
        for conv in range(1, convs + 1):
            x = layers.Conv2D(
                filters,
                kernel,
                padding="same",
                use_bias=not batch_norm,
                name=f"block{block}_conv{conv}",
            )(x)
            if batch_norm:
                # momentum 0.9: short tuning trials must still end with usable statistics
                x = layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn{conv}")(x)
            x = layers.Activation(activation, name=f"block{block}_act{conv}")(x)
        x = layers.Identity(name=f"block{block}_out")(x)
        if size >= 2:
            x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
            size //= 2
    x = layers.Flatten(name="flatten")(x)
    for dense in range(1, hyperparameter(hp, "dense_layers", space) + 1):
        units = hyperparameter(hp, f"units_{dense}", space, default=space.get("units"))
        x = layers.Dense(units, activation=activation, name=f"dense{dense}")(x)
    x = layers.Dropout(hyperparameter(hp, "dropout", space, default=0.0), name="dropout")(x)
    logits = layers.Dense(len(CLASSES), name="logits")(x)
    model = keras.Model(inputs, logits, name="mnist_cnn")
    model.compile(
        optimizer=keras.optimizers.Adam(
            scheduled_learning_rate(hyperparameter(hp, "learning_rate", space), decay_steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model
