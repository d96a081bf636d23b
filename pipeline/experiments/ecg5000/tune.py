"""tune@ecg5000, by ``tune.model``: ROCKET fitted on the training split with each feature
set, the one with the lower leave-one-out error kept, and scored on the validation split; or
KerasTuner over the recurrent networks' space (one model per trial, no augmentation), scored
on the validation split."""

from __future__ import annotations

import dataclasses
import time

import mlflow

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.ecg5000.labels import (
    check_processed,
    class_names,
    class_weights,
    task_labelled,
    training_class_names,
)
from pipeline.experiments.ecg5000.params import EXPERIMENT
from pipeline.experiments.ecg5000.recurrent import build_recurrent
from pipeline.experiments.ecg5000.rocket import fit_random_kernel_classifier
from pipeline.ml.predict import predict_probabilities
from pipeline.ml.search_space import write_best
from pipeline.ml.split_files import load_split
from pipeline.ml.tuning import tune_classifier


def tune(ctx: StageContext) -> StageResult:
    check_processed(ctx.paths.processed, ctx.params.preprocess)
    if ctx.params.tune.model == "recurrent":
        return tune_recurrent(ctx)
    return tune_random_kernels(ctx)


def tune_recurrent(ctx: StageContext) -> StageResult:
    """The search compares single models: augmentation and the ensemble apply to the final
    model only (the train stage)."""
    params, p = ctx.params.tune, ctx.params.preprocess
    classes = len(training_class_names(p))
    result = tune_classifier(
        ctx,
        lambda hp: build_recurrent(hp, params.search_space, classes, augmentation=None),
        params,
        load_split(ctx.paths.processed, "train"),
        load_split(ctx.paths.processed, "validation"),
        class_weight=lambda labels: class_weights(labels, classes, p.class_weights),
    )
    return dataclasses.replace(result, details={"model": "recurrent", **result.details})


def tune_random_kernels(ctx: StageContext) -> StageResult:
    """ROCKET has nothing for KerasTuner to search: its ridge strength is chosen by
    leave-one-out inside the fit. This stage fits it on the training split with each feature
    set of ``features`` and keeps the one with the lower leave-one-out error (a squared error
    over every training beat: finer than the accuracy on a quarter as many validation beats).
    It scores each on the validation split, the check that the train stage's refit on both
    can be trusted (and the figure the model registry compares)."""
    params, p = ctx.params.tune.random_kernels, ctx.params.preprocess
    x_train, y_train = task_labelled(ctx.paths.processed, ["train"], p)
    x_val, y_val = task_labelled(ctx.paths.processed, ["validation"], p)
    started = time.perf_counter()
    candidates = {}
    for features in dict.fromkeys(params.features):
        fit = fit_random_kernel_classifier(
            x_train, y_train, len(class_names(p)), kernels=params.kernels, seed=ctx.seed,
            alphas=params.ridge_alphas, features=features)
        accuracy = float(
            (predict_probabilities(fit.model, x_val).argmax(axis=1) == y_val).mean())
        candidates[features] = {"loo_squared_error": fit.loo_squared_error,
                                "ridge_alpha": fit.alpha, "val_accuracy": accuracy}
    chosen = min(candidates, key=lambda features: candidates[features]["loo_squared_error"])
    best = candidates[chosen]
    # "model" tells the train stage which model to fit
    write_best(ctx.out, {"model": "random_kernels", "kernels": params.kernels,
                         "features": chosen, "ridge_alphas": params.ridge_alphas,
                         "ridge_alpha": best["ridge_alpha"],
                         "val_accuracy": best["val_accuracy"]})
    mlflow.log_params({"best.ridge_alpha": best["ridge_alpha"],
                       "best.kernels": params.kernels, "best.features": chosen})
    return StageResult(
        {"val_accuracy": best["val_accuracy"]},
        {"model": "random_kernels", "features": chosen, "ridge_alpha": best["ridge_alpha"],
         "tuned_on_samples": len(y_train),
         # flat, so that MLflow logs them too: max_loo_squared_error, max_ppv_val_accuracy, ...
         **{f"{features}_{name}": value for features, figures in candidates.items()
            for name, value in figures.items()}},
        {"search_seconds": round(time.perf_counter() - started, 1)},
    )


if __name__ == "__main__":
    main(EXPERIMENT, "tune", tune)
