"""Seeds and deterministic kernels, so that the same params give the same metrics on CPU."""

from __future__ import annotations

import os


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend, and ask for deterministic ops."""
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
