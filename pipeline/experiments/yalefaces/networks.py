"""The networks that recognise faces from neural-PCA components: one per task (an outer fold,
or an inner fold of a selection set), trained side by side (:mod:`.task_networks`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
from keras import layers, ops

from pipeline.core.errors import ParamsError
from pipeline.experiments.yalefaces.layout import CLASSES
from pipeline.experiments.yalefaces.neural_pca import HebbianPCA
from pipeline.experiments.yalefaces.processed import Processed
from pipeline.experiments.yalefaces.task_networks import (
    STEPS_PER_CALL,
    MaskedAccuracy,
    MaskedTaskCrossentropy,
    TaskDense,
    TaskInputs,
    fit_full_batch,
    log_softmax,
    task_labels,
)
from pipeline.ml.search_space import hyperparameter


def task_network(
    inputs: keras.KerasTensor, hp: kt.HyperParameters, space: dict[str, Any],
    class_mask: np.ndarray,
) -> keras.KerasTensor:
    """Hidden layers and logits for every task, from its components (batch, tasks, k)."""
    tasks = int(class_mask.shape[0])
    # all declared whatever the depth, so that every trial sees the whole space
    hidden_layers = hyperparameter(hp, "hidden_layers", space, default=0)
    units = hyperparameter(hp, "units", space, default=64)
    dropout = hyperparameter(hp, "dropout", space, default=0.0)
    l2 = hyperparameter(hp, "l2", space, default=0.0)
    x = inputs
    for index in range(1, hidden_layers + 1):
        x = TaskDense(units, tasks, activation="relu", l2=l2, name=f"hidden{index}")(x)
        x = layers.Dropout(dropout, name=f"dropout{index}")(x)
    return TaskDense(len(CLASSES), tasks, l2=l2, class_mask=class_mask.tolist(),
                     name="logits")(x)


def compile_network(model: keras.Model, hp: kt.HyperParameters, space: dict[str, Any]) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(hyperparameter(hp, "learning_rate", space)),
        loss=MaskedTaskCrossentropy(),
        metrics=[MaskedAccuracy()],
        steps_per_execution=STEPS_PER_CALL,
    )


def task_model(
    hp: kt.HyperParameters, space: dict[str, Any], bases: Sequence[HebbianPCA] | None,
    set_of_task: Sequence[int], class_mask: np.ndarray, max_components: int, features: int,
) -> keras.Model:
    """One network per task. With ``bases`` the model reads pixels and holds each selection
    set's neural PCA; without, it reads precomputed components (batch, sets, max_components)."""
    components = hyperparameter(hp, "components", space)
    if components > max_components:
        raise ParamsError(f"yalefaces.tune.search_space.components: {components} exceeds the "
                          f"{max_components} components neural_pca learns")
    if bases is None:
        inputs = keras.Input((max(set_of_task) + 1, max_components), name="components")
        stacked = inputs
    else:
        inputs = keras.Input((features,), name="pixels")
        projected = [layers.Reshape((1, max_components), name=f"set{index}")(basis(inputs))
                     for index, basis in enumerate(bases)]
        stacked = projected[0] if len(projected) == 1 else layers.Concatenate(axis=1)(projected)
    x = TaskInputs(list(set_of_task), components, name="task_inputs")(stacked)  # leading k
    model = keras.Model(inputs, task_network(x, hp, space, class_mask), name="yalefaces_tasks")
    compile_network(model, hp, space)
    return model



@dataclass(frozen=True)
class InnerTasks:
    """The inner cross-validation of every selection set as tasks of one batched network:
    task t trains on its set minus one inner fold and is scored on that fold."""

    components: np.ndarray  # (images, sets, max components): every set's neural PCA
    set_of_task: list[int]
    set_names: list[str]  # per task
    y_train: np.ndarray  # (images, tasks), -1 where unused
    y_validation: np.ndarray
    class_mask: np.ndarray  # (tasks, classes)
    features: int

    @classmethod
    def build(cls, data: Processed, bases: dict[str, HebbianPCA],
              set_names: Sequence[str]) -> InnerTasks:
        tasks = [(index, name, fold) for index, name in enumerate(set_names)
                 for fold in sorted(data.members(name)["inner_fold"].unique())]
        train, validation = [], []
        for _, name, fold in tasks:
            members = data.members(name)
            train.append(members.loc[members["inner_fold"] != fold, "image"].to_numpy())
            validation.append(members.loc[members["inner_fold"] == fold, "image"].to_numpy())
        return cls(
            np.stack([ops.convert_to_numpy(bases[name](data.features)) for name in set_names],
                     axis=1),
            [index for index, _, _ in tasks], [name for _, name, _ in tasks],
            task_labels(data.labels, train), task_labels(data.labels, validation),
            np.stack([data.classes_of(images) for images in train]), data.features.shape[1])

    def model(self, hp: kt.HyperParameters, space: dict[str, Any], tasks: list[int],
              sets: list[int] | None = None) -> keras.Model:
        sets = sets if sets is not None else sorted({self.set_of_task[t] for t in tasks})
        return task_model(hp, space, None, [sets.index(self.set_of_task[t]) for t in tasks],
                          self.class_mask[tasks], self.components.shape[2], self.features)

    def fit_and_predict(self, hp: kt.HyperParameters, space: dict[str, Any],
                        epochs: int) -> np.ndarray:
        """Log-probabilities (images, tasks, classes) of every task's network. The
        two-subject tasks see 22 images: they train in a model of their own."""
        families: dict[bool, list[int]] = {}
        for task, name in enumerate(self.set_names):
            families.setdefault(name.startswith("two_"), []).append(task)
        result = np.zeros((*self.y_validation.shape, len(CLASSES)), "float32")
        for tasks in families.values():
            used = np.concatenate([self.y_train[:, tasks], self.y_validation[:, tasks]], axis=1)
            rows = np.flatnonzero((used >= 0).any(axis=1))
            sets = sorted({self.set_of_task[t] for t in tasks})
            x = self.components[rows][:, sets]
            model = self.model(hp, space, tasks, sets)
            fit_full_batch(model, x, self.y_train[np.ix_(rows, tasks)], epochs)
            result[np.ix_(rows, tasks)] = log_softmax(model.predict(x, batch_size=len(x),
                                                                    verbose=0))
        return result

