"""Many small classifiers trained side by side as one Keras model.

Nested cross-validation needs one network per fold: hundreds of tiny fits, each dominated by
per-fit overhead on a CPU. Here a *task* axis holds them all: inputs are (samples, tasks,
features), every layer keeps separate weights per task, and labels are (samples, tasks) with
-1 where a sample is not the task's to learn from. One full-batch step trains every task at
once, and each task learns exactly as it would alone (its own weights, its own mean loss).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras import layers, ops

STEPS_PER_CALL = 10  # full-batch steps per call of the compiled train function


@keras.saving.register_keras_serializable(package="pipeline")
class TaskDense(layers.Layer):
    """A dense layer per task: (batch, tasks, in) -> (batch, tasks, units), no weights shared.

    ``class_mask`` (tasks, units) of 0/1, for an output layer, gives the classes a task does
    not have a logit of -1e9, so each task is a softmax over its own classes only (a
    two-class task among 15 classes is then exactly a two-class softmax).
    """

    def __init__(self, units: int, tasks: int, *, activation: str | None = None,
                 l2: float = 0.0, class_mask: list[list[float]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units, self.tasks, self.l2 = units, tasks, l2
        self.activation = keras.activations.get(activation)
        self.class_mask = class_mask

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        fan_in = int(input_shape[-1])
        limit = float(np.sqrt(6.0 / (fan_in + self.units)))  # Glorot, per task
        self.kernel = self.add_weight(
            shape=(self.tasks, fan_in, self.units),
            initializer=keras.initializers.RandomUniform(-limit, limit),
            regularizer=keras.regularizers.L2(self.l2) if self.l2 else None, name="kernel")
        self.bias = self.add_weight(shape=(self.tasks, self.units), initializer="zeros",
                                    name="bias")
        if self.class_mask is not None:
            self.penalty = (1.0 - np.asarray(self.class_mask, "float32")) * -1e9

    def call(self, inputs: Any) -> Any:
        outputs = self.activation(ops.einsum("bti,tio->bto", inputs, self.kernel) + self.bias)
        return outputs if self.class_mask is None else outputs + self.penalty

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "tasks": self.tasks,
                "activation": keras.activations.serialize(self.activation), "l2": self.l2,
                "class_mask": self.class_mask}


@keras.saving.register_keras_serializable(package="pipeline")
class TaskInputs(layers.Layer):
    """(batch, sources, features) -> (batch, tasks, ``features``): task t reads input source
    ``source_of_task[t]`` (tasks may share one), its leading ``features`` only."""

    def __init__(self, source_of_task: list[int], features: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_of_task, self.features = list(source_of_task), features

    def call(self, inputs: Any) -> Any:
        return ops.take(inputs[..., : self.features], np.asarray(self.source_of_task), axis=1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], len(self.source_of_task), self.features)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "source_of_task": self.source_of_task,
                "features": self.features}


@keras.saving.register_keras_serializable(package="pipeline")
class MaskedTaskCrossentropy(keras.losses.Loss):
    """Sum over tasks of each task's mean cross-entropy over its labelled samples; label -1
    means "not this task's sample". Each task's network so learns exactly as if alone."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("reduction", "sum")
        super().__init__(**kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        labels = ops.cast(y_true, "int32")
        mask = ops.cast(labels >= 0, y_pred.dtype)
        losses = keras.losses.sparse_categorical_crossentropy(
            ops.maximum(labels, 0), y_pred, from_logits=True)
        return losses * mask / ops.maximum(ops.sum(mask, axis=0, keepdims=True), 1.0)


@keras.saving.register_keras_serializable(package="pipeline")
class MaskedAccuracy(keras.metrics.Metric):
    """Accuracy over the labelled (>= 0) entries of a (batch, tasks) label array."""

    def __init__(self, name: str = "accuracy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        labels = ops.cast(y_true, "int32")
        mask = ops.cast(labels >= 0, "float32")
        hits = ops.cast(ops.equal(ops.argmax(y_pred, axis=-1), labels), "float32") * mask
        self.correct.assign_add(ops.sum(hits))
        self.total.assign_add(ops.sum(mask))

    def result(self) -> Any:
        return self.correct / ops.maximum(self.total, 1.0)

    def reset_state(self) -> None:
        self.correct.assign(0.0)
        self.total.assign(0.0)


def task_labels(labels: np.ndarray, samples_of_task: Sequence[np.ndarray]) -> np.ndarray:
    """(samples, tasks) int32: the label where task t learns from (or is scored on) the
    sample, that is where the sample is in ``samples_of_task[t]``, else -1."""
    result = np.full((len(labels), len(samples_of_task)), -1, dtype="int32")
    for task, samples in enumerate(samples_of_task):
        result[samples, task] = labels[samples]
    return result


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities from logits (NumPy, stable, masked logits included)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def fit_full_batch(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int,
                   callbacks: Sequence[keras.callbacks.Callback] = ()) -> pd.DataFrame:
    """Train for exactly ``epochs`` full-batch steps, with no early stopping: a refit on all
    of a fold's training data (no validation set left) then repeats exactly the schedule its
    selection scored. Returns the history, one row per ``model.steps_per_execution`` steps
    (or fewer: a divisor of ``epochs``).

    A tiny full-batch epoch costs far less than Keras's per-epoch overhead, so the batch is
    repeated to run several steps per call of the compiled train function (in order, so that
    every step still sees exactly the whole batch once)."""
    repeats = math.gcd(epochs, model.steps_per_execution)
    history = model.fit(np.tile(x, (repeats,) + (1,) * (x.ndim - 1)),
                        np.tile(y, (repeats,) + (1,) * (y.ndim - 1)),
                        epochs=epochs // repeats, batch_size=len(x), shuffle=False, verbose=0,
                        callbacks=list(callbacks))
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", repeats * np.arange(1, len(frame) + 1))
    return frame
