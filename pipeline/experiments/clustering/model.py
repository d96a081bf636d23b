"""The convolutional autoencoder: Conv2D/MaxPool blocks, a Dense bottleneck of two numbers,
and the mirrored decoder (Conv2D/UpSampling2D blocks back to the image, so each convolution
runs at the resolution of its encoder twin), trained with Adam on
the mean squared error. The ``encoder`` (image -> code) and ``decoder`` (code -> image) are
its layers, so a stage that only needs codes loads the saved model and takes the encoder."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
from keras import layers

from pipeline.core.errors import ParamsError
from pipeline.experiments.clustering.params import AutoencoderParams
from pipeline.ml.predict import MODEL_FILE

CODE_SIZE = 2  # the report's bottleneck: two numbers, compared with PCA(2)


def _block(x: keras.KerasTensor, width: int, batch_norm: bool, name: str) -> keras.KerasTensor:
    """3x3 convolution, optional batch normalisation, ReLU."""
    x = layers.Conv2D(width, 3, padding="same", use_bias=not batch_norm, name=f"{name}_conv")(x)
    if batch_norm:
        x = layers.BatchNormalization(name=f"{name}_norm")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def build_autoencoder(image_shape: tuple[int, int, int], params: AutoencoderParams,
                      seed: int) -> keras.Model:
    """The compiled autoencoder for images of ``image_shape`` (H, W, channels), its weights
    drawn from ``seed``. H and W must halve evenly once per block."""
    height, width, channels = image_shape
    factor = 2 ** len(params.filters)
    if height % factor or width % factor:
        raise ParamsError(f"clustering.train.autoencoder.filters: {len(params.filters)} blocks "
                          f"halve the image {len(params.filters)} times, but {height}x{width} "
                          f"images are not divisible by {factor}")
    keras.utils.set_random_seed(seed)
    image = keras.Input(image_shape, name="image")
    x = image
    for index, filters in enumerate(params.filters, 1):
        x = _block(x, filters, params.batch_norm, f"encoder{index}")
        x = layers.MaxPooling2D(2, name=f"encoder{index}_pool")(x)
    inner = tuple(x.shape[1:])
    code = layers.Dense(CODE_SIZE, name="code")(layers.Flatten(name="flatten")(x))
    encoder = keras.Model(image, code, name="encoder")

    code_input = keras.Input((CODE_SIZE,), name="code_input")
    x = layers.Dense(math.prod(inner), activation="relu", name="expand")(code_input)
    x = layers.Reshape(inner, name="unflatten")(x)
    for index, filters in enumerate(reversed(params.filters), 1):
        x = _block(x, filters, params.batch_norm, f"decoder{index}")
        x = layers.UpSampling2D(2, name=f"decoder{index}_upsample")(x)
    pixels = layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="pixels")(x)
    decoder = keras.Model(code_input, pixels, name="decoder")

    model = keras.Model(image, decoder(encoder(image)), name="autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(params.learning_rate), loss="mse")
    return model


def load_encoder(folder: Path) -> keras.Model:
    """The encoder of the autoencoder the train stage saved in ``folder``."""
    return keras.models.load_model(folder / MODEL_FILE, compile=False).get_layer("encoder")


def encode(encoder: keras.Model, images: np.ndarray) -> np.ndarray:
    """Codes of ``images`` (N, CODE_SIZE), float64."""
    return encoder.predict(images, batch_size=512, verbose=0).astype("float64")
