"""Training a built model: callbacks, early stopping and history; and the train stage of a
Keras classifier (best hyperparameters rebuilt and trained from scratch, registered in MLflow).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.ml.devices import device_scope
from pipeline.ml.params import TrainParams
from pipeline.ml.predict import save_trained_model
from pipeline.ml.search_space import fixed_hyperparameters, read_best
from pipeline.tracking.models import register_model

log = logging.getLogger(__name__)

HISTORY_FILE = "history.csv"


class EpochTimer(keras.callbacks.Callback):
    """Wall time of the training part of each epoch (validation excluded), for throughput."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._started: float | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()

    def _stop(self) -> None:
        if self._started is not None:
            self.seconds.append(time.perf_counter() - self._started)
            self._started = None

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._stop()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._stop()

    @property
    def median_seconds(self) -> float:
        return float(np.median(self.seconds))


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
    """Train with early stopping (best weights restored) and LR decay on plateau, both
    watching ``params.monitor``; per-epoch metrics go to MLflow. Returns the history, one row
    per epoch."""
    monitor = params.monitor
    history = model.fit(
        train[0],
        train[1],
        validation_data=validation,
        epochs=params.epochs,
        batch_size=params.batch_size,
        class_weight=dict(class_weight) if class_weight else None,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor=monitor.name,
                mode=monitor.direction,
                patience=params.early_stopping_patience,
                restore_best_weights=True,
            ),
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor.name,
                mode=monitor.direction,
                patience=params.reduce_lr_patience,
                factor=params.reduce_lr_factor,
            ),
            mlflow.keras.MlflowCallback(),
            *callbacks,
        ],
        verbose=verbose,
    )
    return history_frame(history.history)


def history_frame(history: Mapping[str, Sequence[float]], epochs: Sequence[int] | None = None
                  ) -> pd.DataFrame:
    frame = pd.DataFrame(dict(history))
    frame.insert(0, "epoch", list(epochs) if epochs is not None else range(1, len(frame) + 1))
    return frame


def save_history(history: pd.DataFrame, ctx: StageContext) -> None:
    """The history as DVC plot data (``metrics/<exp>/train_history.csv``) and a figure."""
    history.to_csv(ctx.plots / HISTORY_FILE, index=False, float_format="%.6g")
    plot_history(history, ctx.out / "history.png")


def plot_history(history: pd.DataFrame, path: Path) -> None:
    """Loss and every other metric, training beside validation, per epoch. (Here rather than
    with the other figures: a change to those must not rerun training.)"""
    names = [name for name in history.columns
             if name not in ("epoch", "learning_rate") and not name.startswith("val_")]
    figure, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for axis, name in zip(axes.flat, names, strict=True):
        axis.plot(history["epoch"], history[name], label="train")
        if f"val_{name}" in history:
            axis.plot(history["epoch"], history[f"val_{name}"], label="validation")
        axis.set(title=name, xlabel="epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def train_classifier(
    ctx: StageContext,
    build: Callable[[kt.HyperParameters], keras.Model],
    params: TrainParams,
    train: tuple[Any, Any],
    validation: tuple[Any, Any],
    *,
    samples: int,
    example_input: np.ndarray,
    class_weight: Mapping[int, float] | None = None,
) -> StageResult:
    """The train stage of a classifier: the tune stage's best hyperparameters built anew and
    trained from scratch on ``train`` (``samples`` of them), early-stopped on ``validation``;
    the model saved, its history plotted and the model registered (on ``params.monitor``)."""
    hp = fixed_hyperparameters(read_best(ctx.paths.tune))
    if "batch_size" in hp.values:
        params = params.model_copy(update={"batch_size": hp.values["batch_size"]})
    timer = EpochTimer()
    with device_scope(params.mixed_precision):
        model = build(hp)
        history = fit(model, train, validation, params, class_weight=class_weight,
                      callbacks=[timer])
    save_trained_model(model, ctx.out)
    save_history(history, ctx)
    monitor = params.monitor
    best_epoch = monitor.best_index(history[monitor.name])
    register_model(model, ctx.experiment, metric=monitor.name,
                   value=float(history[monitor.name].iloc[best_epoch]),
                   direction=monitor.direction, example_input=example_input,
                   synthetic=ctx.synthetic)
    figures = {
        "epochs_run": len(history),
        "best_epoch": best_epoch + 1,
        **{f"best_{name}": float(history[name].iloc[best_epoch])
           for name in history.columns if name.startswith("val_")},
        "parameters": int(model.count_params()),
    }
    headline = f"best_{monitor.name}"
    return StageResult({headline: figures.pop(headline)}, figures,
                       {"samples_per_second": round(samples / timer.median_seconds, 1)})

