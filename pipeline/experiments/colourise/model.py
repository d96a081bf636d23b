"""The two colourisation networks, and the arrays they learn from and produce.

``unet`` (the default, ours): L* -> a*b*, a small U-Net whose skip connections carry the
edges of the gray image to the output, so the decoder only has to say which colour goes where;
the image keeps its own lightness. ``encoder_decoder`` (the report's, reconstructed): gray ->
RGB through a stride-2 convolutional bottleneck and transposed convolutions back, sigmoid
output, MSE on RGB. Both see the same gray input (L* / 100) and are trained with Adam on MSE.
"""

from __future__ import annotations

from typing import Any, Literal

import keras
import keras_tuner as kt
import numpy as np
from keras import layers

from pipeline.experiments.colourise.colour import (
    AB_SCALE,
    gray_input,
    rgb_floats,
    to_lab,
    with_chroma,
)
from pipeline.ml.search_space import hyperparameter

Architecture = Literal["unet", "encoder_decoder"]
# the report's encoder widths (1 -> 64 -> 128 -> 256) and the decoder's back up
REPORT_ENCODER = (64, 128, 256)
REPORT_DECODER = (128, 64, 32)


def build(hp: kt.HyperParameters, space: dict[str, Any], architecture: Architecture,
          shape: tuple[int, int, int]) -> keras.Model:
    """The compiled network of ``architecture`` for gray images of ``shape`` (H, W, 1)."""
    gray = keras.Input(shape, name="gray")
    if architecture == "unet":
        output = _unet(gray, hyperparameter(hp, "filters", space),
                       hyperparameter(hp, "depth", space))
    else:
        output = _encoder_decoder(gray)
    model = keras.Model(gray, output, name=architecture)
    model.compile(optimizer=keras.optimizers.Adam(hyperparameter(hp, "learning_rate", space)),
                  loss="mse", metrics=["mae"])
    return model


def _unet(gray: Any, filters: int, depth: int) -> Any:
    x, crop = _padded(gray, 2**depth)
    skips = []
    for level in range(depth):
        x = _conv_block(x, filters * 2**level, f"down{level + 1}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level + 1}")(x)
    x = _conv_block(x, filters * 2**depth, "bottom")
    for level in reversed(range(depth)):
        x = layers.Conv2DTranspose(filters * 2**level, 2, strides=2,
                                   name=f"up{level + 1}_deconv")(x)
        x = layers.Concatenate(name=f"up{level + 1}_skip")([x, skips[level]])
        x = _conv_block(x, filters * 2**level, f"up{level + 1}")
    x = layers.Cropping2D(crop, name="crop")(x)
    return layers.Conv2D(2, 1, activation="tanh", name="chroma")(x)  # a*b* / AB_SCALE


def _encoder_decoder(gray: Any) -> Any:
    x, crop = _padded(gray, 2 ** len(REPORT_ENCODER))
    for index, width in enumerate(REPORT_ENCODER, 1):
        x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu",
                          name=f"encoder{index}")(x)
    for index, width in enumerate(REPORT_DECODER, 1):
        x = layers.Conv2DTranspose(width, 3, strides=2, padding="same", activation="relu",
                                   name=f"decoder{index}")(x)
    x = layers.Cropping2D(crop, name="crop")(x)
    return layers.Conv2D(3, 3, padding="same", activation="sigmoid", name="rgb")(x)


def _conv_block(x: Any, width: int, name: str) -> Any:
    for index in (1, 2):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False,
                          name=f"{name}_conv{index}")(x)
        x = layers.BatchNormalization(name=f"{name}_norm{index}")(x)
        x = layers.ReLU(name=f"{name}_relu{index}")(x)
    return x


def _padded(x: Any, multiple: int) -> tuple[Any, tuple[tuple[int, int], tuple[int, int]]]:
    """``x`` zero-padded to sides that halve ``log2(multiple)`` times evenly (Fruits-360's
    100 pixels do not halve three times), and the cropping that takes the padding off."""
    pads = [-side % multiple for side in x.shape[1:3]]
    crop = tuple((pad // 2, pad - pad // 2) for pad in pads)
    return layers.ZeroPadding2D(crop, name="pad")(x), crop


def fit_arrays(images: np.ndarray, architecture: Architecture
               ) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of uint8 RGB ``images``: L* / 100, and a*b* / 128 (unet) or RGB in
    [0, 1] (encoder_decoder)."""
    lab = to_lab(images)
    targets = lab[..., 1:] / AB_SCALE if architecture == "unet" else rgb_floats(images)
    return gray_input(lab), targets


def colourise(model: keras.Model, lab: np.ndarray, architecture: Architecture,
              batch_size: int) -> np.ndarray:
    """The colour images (float32 RGB in [0, 1]) the model makes of ``lab``'s lightness."""
    outputs = model.predict(gray_input(lab), batch_size=batch_size, verbose=0)
    if architecture == "unet":
        return with_chroma(lab, outputs * AB_SCALE)
    return np.clip(outputs, 0, 1).astype("float32")
