"""train@yalefaces: for every outer fold, the network its selection set chose, trained on the
fold's training images (all but the held-out ones) on the set's neural-PCA components
(learned on the selection set, so the unsupervised basis never saw a held-out image either);
and one deployable model (set ``all``: every image) trained the same way for explain. Oja's
subspace rule is also learned on all images, to be compared with PCA in evaluate."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.yalefaces.bases import BASES_FILE, load_bases, save_bases
from pipeline.experiments.yalefaces.layout import CLASSES
from pipeline.experiments.yalefaces.networks import task_model
from pipeline.experiments.yalefaces.neural_pca import HebbianPCA, fit_hebbian
from pipeline.experiments.yalefaces.params import EXPERIMENT
from pipeline.experiments.yalefaces.processed import ALL_IMAGES, Processed, training_images
from pipeline.experiments.yalefaces.selection import read_selection
from pipeline.experiments.yalefaces.task_networks import fit_full_batch, task_labels
from pipeline.experiments.yalefaces.trained import FOLD_MODELS, FOLD_TASKS, OJA_FILE
from pipeline.ml.devices import device_scope
from pipeline.ml.predict import MODEL_FILE, save_model_reproducibly
from pipeline.ml.search_space import fixed_hyperparameters
from pipeline.ml.training import save_history


def train(ctx: StageContext) -> StageResult:
    data = Processed.load(ctx.paths.processed)
    epochs, chosen = read_selection(ctx.paths.tune)
    bases = load_bases(ctx.paths.tune / BASES_FILE)
    max_components = next(iter(bases.values())).units
    features, labels = data.features, data.labels
    started = time.perf_counter()
    with device_scope(ctx.params.train.mixed_precision):
        values = chosen[ALL_IMAGES]["hyperparameters"]
        model = task_model(fixed_hyperparameters(values), values, [bases[ALL_IMAGES]],
                           [0], np.ones((1, len(CLASSES)), "float32"), max_components,
                           features.shape[1])
        history = fit_full_batch(model, features, labels[:, None], epochs,
                                 callbacks=[mlflow.keras.MlflowCallback()])
        save_model_reproducibly(model, ctx.out / MODEL_FILE)
        fold_tasks = train_fold_models(data, bases, chosen, epochs, ctx.out)
    save_history(history, ctx)
    oja, oja_history = fit_hebbian(features, ctx.params.train.oja,
                                   seed=int(ctx.rng("neural-pca-oja").integers(2**31)))
    save_bases(ctx.out / OJA_FILE, {"oja": oja})
    oja_history.to_csv(ctx.out / "oja_history.csv", index=False)
    shutil.copyfile(ctx.paths.tune / BASES_FILE, ctx.out / BASES_FILE)
    seconds = round(time.perf_counter() - started, 1)
    return StageResult(
        {"fold_networks": len(fold_tasks)},
        {
            "epochs": epochs,
            "final_training_accuracy": float(history["accuracy"].iloc[-1]),
            "parameters": int(model.count_params()),
            "fold_models": int(fold_tasks["model"].nunique()),
            "oja_iterations": int(oja_history["iteration"].iloc[-1]),
        },
        {"training_seconds": seconds},
    )


def train_fold_models(data: Processed, bases: dict[str, HebbianPCA], chosen: dict[str, Any],
                      epochs: int, out: Path) -> pd.DataFrame:
    """One network per outer fold, trained on the fold's training images with its
    selection set's choice; folds sharing a choice train side by side in one model."""
    folder = out / FOLD_MODELS
    folder.mkdir()
    folds = pd.DataFrame(data.outer_folds(), columns=["repeat", "protocol", "outer_fold",
                                                      "selection_set"])
    folds["choice"] = [json.dumps(chosen[name]["hyperparameters"], sort_keys=True)
                       for name in folds["selection_set"]]
    max_components = next(iter(bases.values())).units
    frames = []
    for number, (choice, rows) in enumerate(folds.groupby("choice", sort=True)):
        values = json.loads(choice)
        set_names = sorted(rows["selection_set"].unique())
        images = [training_images(data.folds, *outer_fold) for outer_fold in zip(
            rows["repeat"], rows["protocol"], rows["outer_fold"], strict=True)]
        class_mask = np.stack([data.classes_of(train) for train in images])
        model = task_model(
            fixed_hyperparameters(values), values, [bases[name] for name in set_names],
            [set_names.index(name) for name in rows["selection_set"]], class_mask,
            max_components, data.features.shape[1])
        labels = task_labels(data.labels, images)
        used = np.flatnonzero((labels >= 0).any(axis=1))  # 22 for the two-subject task
        fit_full_batch(model, data.features[used], labels[used], epochs)
        file = f"model_{number:02d}.keras"
        save_model_reproducibly(model, folder / file)
        frames.append(rows.drop(columns="choice").assign(model=file, task=range(len(rows))))
    tasks = pd.concat(frames, ignore_index=True)
    tasks.to_csv(out / FOLD_TASKS, index=False)
    return tasks


if __name__ == "__main__":
    main(EXPERIMENT, "train", train)
