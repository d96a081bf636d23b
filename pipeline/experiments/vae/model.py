"""The convolutional VAE of the Keras example, every size read from the search space.

One model with two outputs, so that Keras trains it with ``fit`` on any backend and logs
both halves of the loss: ``reconstruction`` (decoder logits; loss: the binary cross-entropy
summed over pixels) and ``kl`` (each image's KL divergence from the prior; loss: the value
itself). Their sum, averaged over images, is the negative ELBO in nats per image. The
``encoder`` (image -> mean, log-variance) and ``decoder`` (code -> logits) are its layers.
"""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner as kt
from keras import layers, ops

from pipeline.ml.search_space import hyperparameter

IMAGE_SHAPE = (28, 28, 1)
_PACKAGE = "vae"


@keras.saving.register_keras_serializable(_PACKAGE)
class Sampling(layers.Layer):
    """z = mean + exp(log_var / 2) * eps, eps ~ N(0, I): the reparameterisation trick."""

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, mean: Any, log_var: Any) -> Any:
        noise = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * noise

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(_PACKAGE)
class KLToStandardNormal(layers.Layer):
    """KL(N(mean, exp(log_var)) || N(0, I)) per image, in closed form."""

    def call(self, mean: Any, log_var: Any) -> Any:
        return 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)


@keras.saving.register_keras_serializable(_PACKAGE)
def summed_binary_crossentropy(images: Any, logits: Any) -> Any:
    """-log p(x|z) per image under independent Bernoulli pixels (Keras's VAE example)."""
    return ops.sum(ops.binary_crossentropy(images, logits, from_logits=True), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(_PACKAGE)
def output_as_loss(_: Any, value: Any) -> Any:
    """For an output that is already a per-image loss (the KL term)."""
    return value


def build_vae(hp: kt.HyperParameters, space: dict[str, Any], seed: int = 0) -> keras.Model:
    latent = hyperparameter(hp, "latent_dim", space)
    filters = [hyperparameter(hp, f"filters_{i}", space) for i in (1, 2)]
    units = hyperparameter(hp, "units", space)

    image = keras.Input(IMAGE_SHAPE, name="image")
    x = image
    for i, width in enumerate(filters, 1):
        x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu",
                          name=f"encoder_conv{i}")(x)
    x = layers.Dense(units, activation="relu", name="encoder_dense")(layers.Flatten()(x))
    encoder = keras.Model(image, [layers.Dense(latent, name="mean")(x),
                                  layers.Dense(latent, name="log_var")(x)], name="encoder")

    code = keras.Input((latent,), name="code")
    x = layers.Dense(7 * 7 * filters[1], activation="relu", name="decoder_dense")(code)
    x = layers.Reshape((7, 7, filters[1]))(x)
    for i, width in enumerate(reversed(filters), 1):
        x = layers.Conv2DTranspose(width, 3, strides=2, padding="same", activation="relu",
                                   name=f"decoder_deconv{i}")(x)
    logits = layers.Conv2DTranspose(1, 3, padding="same", name="logits")(x)
    decoder = keras.Model(code, logits, name="decoder")

    mean, log_var = encoder(image)
    outputs = {"reconstruction": decoder(Sampling(seed, name="sampling")(mean, log_var)),
               "kl": KLToStandardNormal(name="kl")(mean, log_var)}
    model = keras.Model(image, outputs, name="vae")
    model.compile(optimizer=keras.optimizers.Adam(hyperparameter(hp, "learning_rate", space)),
                  loss={"reconstruction": summed_binary_crossentropy, "kl": output_as_loss})
    return model


def targets(images: Any) -> dict[str, Any]:
    """What ``fit`` compares the outputs with: the images themselves, and nothing for KL."""
    return {"reconstruction": images, "kl": ops.zeros((len(images),))}
