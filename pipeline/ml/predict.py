"""The trained model on disk, and the predictions of a logits model (every model here
outputs class logits)."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

MODEL_FILE = "model.keras"


def save_model_reproducibly(model: keras.Model, path: Path) -> None:
    """``model.save(path)``, with the bytes depending on the model alone. Keras stamps the
    ``.keras`` zip with the time (``metadata.json``'s ``date_saved``, the weights member's
    date) and numbers shared objects (a layer's dtype policy) by their memory address, which
    would make identical runs write different files and change ``dvc.lock``: the dates go,
    the numbers become 1, 2, ... in the order they appear."""
    with tempfile.TemporaryDirectory() as scratch:
        saved = Path(scratch) / path.name
        model.save(saved)
        partial = path.with_name(path.name + ".partial")
        with zipfile.ZipFile(saved) as source, zipfile.ZipFile(partial, "w") as target:
            for info in source.infolist():
                data = source.read(info)
                if info.filename == "metadata.json":
                    metadata = json.loads(data)
                    metadata.pop("date_saved", None)
                    data = json.dumps(metadata, sort_keys=True).encode()
                elif info.filename == "config.json":
                    data = json.dumps(_renumber_shared_objects(json.loads(data))).encode()
                member = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                member.compress_type = info.compress_type
                member.external_attr = info.external_attr
                target.writestr(member, data)
    os.replace(partial, path)


def _renumber_shared_objects(config: Any) -> Any:
    """``config`` with every ``shared_object_id`` replaced by its order of appearance."""
    numbers: dict[int, int] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: numbers.setdefault(value, len(numbers) + 1)
                    if key == "shared_object_id" else walk(value)
                    for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(config)


def save_trained_model(model: keras.Model, folder: Path) -> None:
    """The train stage's model, as ``folder/model.keras`` (see :func:`save_model_reproducibly`)."""
    save_model_reproducibly(model, folder / MODEL_FILE)


def load_trained_model(folder: Path, *, compile: bool = True) -> keras.Model:
    """The model the train stage saved in ``folder``."""
    return keras.models.load_model(folder / MODEL_FILE, compile=compile)


def predict_probabilities(model: keras.Model, x: Any, batch_size: int = 512) -> np.ndarray:
    """Class probabilities: the softmax of the model's logits."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))
