"""train@ecg5000, by what the tune stage chose: ROCKET refitted on every labelled training
beat, or the best recurrent network (an ensemble of ``train.ensemble_members``, augmented)
trained from scratch with early stopping on the validation split. Either is registered."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

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
from pipeline.ml.predict import save_trained_model
from pipeline.ml.search_space import read_best
from pipeline.ml.split_files import load_split
from pipeline.ml.training import history_frame, save_history, train_classifier
from pipeline.tracking.models import register_model

RANDOM_KERNEL_MODEL = "ecg_random_kernels"


def train(ctx: StageContext) -> StageResult:
    check_processed(ctx.paths.processed, ctx.params.preprocess)
    chosen = read_best(ctx.paths.tune)
    if chosen.get("model") == "random_kernels":
        return train_random_kernels(ctx, chosen)
    return train_recurrent(ctx)


def train_recurrent(ctx: StageContext) -> StageResult:
    params, p = ctx.params.train, ctx.params.preprocess
    classes = len(training_class_names(p))
    x_train, y_train = load_split(ctx.paths.processed, "train")
    result = train_classifier(
        ctx,
        lambda hp: build_recurrent(hp, ctx.params.tune.search_space, classes,
                                   params.augmentation, members=params.ensemble_members),
        params,
        (x_train, y_train),
        load_split(ctx.paths.processed, "validation"),
        samples=len(x_train),
        example_input=x_train[:4],
        class_weight=class_weights(y_train, classes, p.class_weights),
    )
    return dataclasses.replace(result, details={"model": "recurrent", **result.details})


def train_random_kernels(ctx: StageContext, chosen: dict[str, Any]) -> StageResult:
    """ROCKET, with the feature set the tune stage chose, refitted on every labelled training
    beat (training and validation splits: there is no early stopping to hold data back for),
    its ridge strength chosen again by leave-one-out on them. Its "history" is the one
    closed-form fit: the squared error on the fitted beats (``loss``) and leave-one-out
    (``val_loss``). It is registered on the tune stage's validation accuracy, the one figure
    it has on held-out beats."""
    p = ctx.params.preprocess
    x, y = task_labelled(ctx.paths.processed, ["train", "validation"], p)
    started = time.perf_counter()
    fit = fit_random_kernel_classifier(
        x, y, len(class_names(p)), kernels=chosen["kernels"], seed=ctx.seed,
        alphas=chosen["ridge_alphas"], features=chosen["features"], name=RANDOM_KERNEL_MODEL)
    save_trained_model(fit.model, ctx.out)
    save_history(history_frame({"loss": [fit.squared_error],
                                "val_loss": [fit.loo_squared_error]}), ctx)
    register_model(fit.model, ctx.experiment, metric="val_accuracy",
                   value=chosen["val_accuracy"], direction="max", example_input=x[:4],
                   synthetic=ctx.synthetic)
    return StageResult(
        {"loo_squared_error": fit.loo_squared_error},
        {"model": "random_kernels", "features": chosen["features"], "ridge_alpha": fit.alpha,
         "trained_on_beats": len(y), "parameters": int(fit.model.count_params())},
        {"fit_seconds": round(time.perf_counter() - started, 1)},
    )


if __name__ == "__main__":
    main(EXPERIMENT, "train", train)
