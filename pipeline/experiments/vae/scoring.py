"""A trained VAE's encoder and decoder applied to images in batches, and its bounds."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from pipeline.experiments.vae.bounds import bernoulli_log_likelihood, estimate_bounds
from pipeline.experiments.vae.model import (
    KLToStandardNormal,
    Sampling,
    output_as_loss,
    summed_binary_crossentropy,
)
from pipeline.ml.predict import MODEL_FILE


def load_vae(folder: Path) -> keras.Model:
    """The VAE the train stage saved, its custom layers and losses named."""
    custom = {item.__name__: item for item in (Sampling, KLToStandardNormal, output_as_loss,
                                                summed_binary_crossentropy)}
    return keras.models.load_model(folder / MODEL_FILE, compile=False, custom_objects=custom)


def halves(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """The VAE's encoder (image -> mean, log-variance) and decoder (code -> logits)."""
    return model.get_layer("encoder"), model.get_layer("decoder")


def encode(encoder: keras.Model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, log_var = encoder.predict(images, batch_size=1024, verbose=0)
    return mean.astype("float64"), log_var.astype("float64")


def decode_probabilities(decoder: keras.Model, codes: np.ndarray) -> np.ndarray:
    """Pixel means, (N, 28, 28)."""
    logits = decoder.predict(codes.astype("float32"), batch_size=1024, verbose=0)
    return keras.ops.convert_to_numpy(keras.ops.sigmoid(logits))[..., 0]


def score_images(model: keras.Model, images: np.ndarray, samples: int, batch_size: int,
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    """:func:`estimate_bounds` for every image (nats), ``samples`` codes each, in batches."""
    encoder, decoder = halves(model)
    parts = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        mean, log_var = encode(encoder, batch)

        def log_likelihood(z: np.ndarray, batch: np.ndarray = batch) -> np.ndarray:
            logits = decoder.predict(z.reshape(-1, z.shape[-1]).astype("float32"),
                                     batch_size=4096, verbose=0).astype("float64")
            repeated = np.repeat(batch.astype("float64"), z.shape[1], axis=0)
            return bernoulli_log_likelihood(repeated, logits).reshape(z.shape[:2])

        parts.append(estimate_bounds(mean, log_var, log_likelihood, samples, rng))
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
