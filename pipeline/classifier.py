"""The tune → train → evaluate flow of a classifier on in-memory array splits.

A dataset whose preprocess stage writes ``train``/``validation``/``test`` splits with
:func:`pipeline.splits.save_split` subclasses :class:`ArrayClassificationDataset` and supplies
the class names and a model builder; the flow below is then written once:

* tune: KerasTuner on train (optionally a stratified subset) scored on validation only;
* train: the best hyperparameters rebuilt and trained from scratch (``augment=True``);
* evaluate: the test split, read here for the first time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import keras
import keras_tuner as kt
import mlflow
import numpy as np
import pandas as pd
from pydantic import Field

from pipeline import evaluation, plots, tracking, training, tuning
from pipeline.datasets.base import Dataset, Metrics, StageContext
from pipeline.splits import load_split, stratified_subset

log = logging.getLogger(__name__)

BEST_HYPERPARAMETERS = "best_hyperparameters.json"
MODEL_FILE = "model.keras"


class ClassifierTuneParams(tuning.TunerParams):
    train_subset: int | None = Field(
        None, ge=10, description="tune on a stratified subset of the training split (speed)"
    )


class ArrayClassificationDataset(Dataset):
    """Shared tune/train/evaluate for datasets stored as array splits."""

    @abstractmethod
    def class_names(self, params: Any) -> Sequence[str]: ...

    @abstractmethod
    def build_model(self, hp: kt.HyperParameters, params: Any, *, augment: bool) -> keras.Model:
        """A compiled model whose output is the class logits."""

    def class_weight(self, labels: np.ndarray, params: Any) -> dict[int, float] | None:
        """Per-class loss weights for training; none by default."""
        return None

    # -- tune ------------------------------------------------------------------------------
    def tune(self, ctx: StageContext) -> Metrics:
        params = ctx.params.tune
        x_train, y_train = load_split(ctx.paths.processed, "train")
        x_val, y_val = load_split(ctx.paths.processed, "validation")
        subset = stratified_subset(y_train, params.train_subset, ctx.seed)
        # The search resumes only for the same space, data and task: the key covers the tune
        # and preprocess params and the training labels themselves.
        workdir = ctx.paths.tuner_workdir(
            tuning.configuration_hash(
                params.model_dump(mode="json"), ctx.params.preprocess.model_dump(mode="json"),
                ctx.seed, hashlib.sha256(y_train.tobytes()).hexdigest(), ctx.synthetic,
            )
        )
        started = time.perf_counter()
        best, trials = tuning.search(
            lambda hp: self.build_model(hp, ctx.params, augment=False),
            params=params,
            train=(x_train[subset], y_train[subset]),
            validation=(x_val, y_val),
            workdir=workdir,
            seed=ctx.seed,
            class_weight=self.class_weight(y_train[subset], ctx.params),
        )
        (ctx.out / BEST_HYPERPARAMETERS).write_text(json.dumps(best, indent=2, sort_keys=True))
        pd.DataFrame(trials).to_csv(ctx.out / "trials.csv", index=False)
        mlflow.log_params({f"best.{key}": value for key, value in best.items()})
        scores = [row["score"] for row in trials if row["score"] is not None]
        return {
            "trials": len(trials),
            f"best_{params.objective}": (
                (min(scores) if "loss" in params.objective else max(scores)) if scores else None
            ),
            "search_seconds": round(time.perf_counter() - started, 1),
            "tuned_on_samples": len(subset),
        }

    # -- train -----------------------------------------------------------------------------
    def best_hyperparameters(self, ctx: StageContext) -> kt.HyperParameters:
        values = json.loads((ctx.paths.tune / BEST_HYPERPARAMETERS).read_text())
        return tuning.fixed_hyperparameters(values)

    def train(self, ctx: StageContext) -> Metrics:
        params = ctx.params.train
        x_train, y_train = load_split(ctx.paths.processed, "train")
        x_val, y_val = load_split(ctx.paths.processed, "validation")
        hp = self.best_hyperparameters(ctx)
        if "batch_size" in hp.values:
            params = params.model_copy(update={"batch_size": hp.values["batch_size"]})
        timer = EpochTimer()
        with training.device_scope(params.mixed_precision):
            model = self.build_model(hp, ctx.params, augment=True)
            history = training.fit(
                model,
                (x_train, y_train),
                (x_val, y_val),
                params,
                class_weight=self.class_weight(y_train, ctx.params),
                callbacks=[timer],
            )
        model.save(ctx.out / MODEL_FILE)
        training.save_history(history, ctx.plots / "history.csv")
        plots.training_history(history, ctx.out / "history.png")
        mlflow.log_artifacts(str(ctx.out), artifact_path="model")
        best_epoch = int(
            history[params.monitor].idxmin()
            if "loss" in params.monitor
            else history[params.monitor].idxmax()
        )
        tracking.register_model(
            ctx.dataset, params.monitor, float(history[params.monitor].iloc[best_epoch]),
            greater_is_better="loss" not in params.monitor, synthetic=ctx.synthetic,
        )
        return {
            "epochs_run": len(history),
            "best_epoch": best_epoch + 1,
            **{
                f"best_{name}": float(history[name].iloc[best_epoch])
                for name in history.columns
                if name.startswith("val_")
            },
            "parameters": int(model.count_params()),
            "train_images_per_second": round(len(x_train) / timer.median_seconds, 1),
        }

    # -- evaluate --------------------------------------------------------------------------
    def load_model(self, ctx: StageContext) -> keras.Model:
        return keras.models.load_model(ctx.paths.model / MODEL_FILE)

    def evaluate(self, ctx: StageContext) -> Metrics:
        names = list(self.class_names(ctx.params))
        x_test, y_test = load_split(ctx.paths.processed, "test")
        model = self.load_model(ctx)
        probabilities = predict_probabilities(model, x_test)
        y_pred = probabilities.argmax(axis=1)
        positive = probabilities[:, 1] if len(names) == 2 else None
        metrics = evaluation.classification_metrics(y_test, y_pred, names, positive)
        evaluation.write_predictions(ctx.plots / "predictions.csv", y_test, y_pred, names)
        evaluation.write_confusion_matrix(ctx.out, y_test, y_pred, names)
        if positive is not None:
            evaluation.write_binary_curves(ctx.out, y_test, positive)
        self.write_error_gallery(ctx, x_test, y_test, probabilities)
        mlflow.log_artifacts(str(ctx.out), artifact_path="evaluate")
        return metrics

    def write_error_gallery(
        self, ctx: StageContext, x: np.ndarray, y: np.ndarray, probabilities: np.ndarray
    ) -> None:
        """Hook: a picture of misclassified test samples (image datasets draw them)."""


def predict_probabilities(model: keras.Model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class probabilities from a logits model."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))


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
