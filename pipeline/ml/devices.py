"""Where a model is built and trained: every GPU the Keras backend sees (data parallel when
several), CPU otherwise; mixed precision on GPU when asked."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import keras

log = logging.getLogger(__name__)


def accelerators() -> list[str]:
    """Names of the GPUs the Keras backend sees (empty on CPU)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [device.name for device in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [str(device) for device in jax.devices() if device.platform == "gpu"]
    return []


@contextlib.contextmanager
def device_scope(mixed_precision: bool) -> Iterator[None]:
    """Build and train inside this: all GPUs (data parallel when several), CPU otherwise."""
    gpus = accelerators()
    if mixed_precision:
        if gpus:
            keras.mixed_precision.set_global_policy("mixed_float16")
        else:
            log.warning("train.mixed_precision is on but no GPU was found: training in float32")
    log.info("devices: %s", ", ".join(gpus) if gpus else "CPU")
    try:
        if len(gpus) > 1 and keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            with tf.distribute.MirroredStrategy().scope():
                yield
        elif len(gpus) > 1 and keras.backend.backend() == "jax":
            keras.distribution.set_distribution(keras.distribution.DataParallel())
            yield
        else:
            yield
    finally:
        keras.mixed_precision.set_global_policy("float32")
