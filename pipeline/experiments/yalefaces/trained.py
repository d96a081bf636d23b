"""What the train stage leaves for evaluate and explain: the deployable network, one network
per outer fold (``fold_tasks.csv`` says which model and task holds each fold), and Oja's
subspace of all images; and how they are loaded."""

from __future__ import annotations

from pathlib import Path

import keras

from pipeline.experiments.yalefaces.neural_pca import HebbianPCA
from pipeline.experiments.yalefaces.task_networks import TaskDense, TaskInputs

FOLD_MODELS = "fold_models"  # folder of the fold networks' .keras files
FOLD_TASKS = "fold_tasks.csv"  # repeat, protocol, outer_fold, selection_set, model, task
OJA_FILE = "oja.npz"
_LAYERS = {keras.saving.get_registered_name(layer): layer
           for layer in (HebbianPCA, TaskDense, TaskInputs)}


def load_network(path: Path) -> keras.Model:
    """A saved network (its logits), uncompiled: it is only asked for predictions."""
    return keras.models.load_model(path, compile=False, custom_objects=_LAYERS)
