"""Training a built model: devices, precision, callbacks and history, shared by every dataset."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import pandas as pd
from pydantic import Field

from pipeline.config import StrictModel
from pipeline.tracking import log_numeric_metrics

log = logging.getLogger(__name__)


class TrainParams(StrictModel):
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(128, ge=1)
    monitor: str = Field("val_loss", description="what early stopping and LR decay watch")
    early_stopping_patience: int = Field(4, ge=1)
    reduce_lr_patience: int = Field(2, ge=1)
    reduce_lr_factor: float = Field(0.3, gt=0, lt=1)
    mixed_precision: bool = Field(False, description="float16 compute on GPU; ignored on CPU")


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


class MlflowEpochLogger(keras.callbacks.Callback):
    """Per-epoch metrics into the active MLflow run."""

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        log_numeric_metrics(logs or {}, step=epoch)


def fit(
    model: keras.Model,
    train: tuple[Any, Any],
    validation: tuple[Any, Any],
    params: TrainParams,
    *,
    class_weight: Mapping[int, float] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 2,
) -> pd.DataFrame:
    """Train with early stopping (best weights restored) and LR decay on plateau.

    Returns the history, one row per epoch.
    """
    mode = "max" if "acc" in params.monitor or "auc" in params.monitor else "min"
    history = model.fit(
        train[0],
        train[1],
        validation_data=validation,
        epochs=params.epochs,
        batch_size=params.batch_size,
        class_weight=dict(class_weight) if class_weight else None,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor=params.monitor,
                mode=mode,
                patience=params.early_stopping_patience,
                restore_best_weights=True,
            ),
            keras.callbacks.ReduceLROnPlateau(
                monitor=params.monitor,
                mode=mode,
                patience=params.reduce_lr_patience,
                factor=params.reduce_lr_factor,
            ),
            MlflowEpochLogger(),
            *callbacks,
        ],
        verbose=verbose,
    )
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", range(1, len(frame) + 1))
    return frame


def save_history(history: pd.DataFrame, path: Path) -> None:
    history.to_csv(path, index=False, float_format="%.6g")
