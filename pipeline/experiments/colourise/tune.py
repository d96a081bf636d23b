"""tune@colourise: KerasTuner over the network's space (the U-Net's width, depth and
learning rate), trained on a stratified subset of the training split and scored by the
validation MSE. A space with nothing free (the report preset) is not searched."""

from __future__ import annotations

import time

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.colourise.model import build, fit_arrays
from pipeline.experiments.colourise.params import EXPERIMENT
from pipeline.ml.split_files import load_split
from pipeline.ml.splits import stratified_subset
from pipeline.ml.tuning import finish_search, search, search_workdir


def tune(ctx: StageContext) -> StageResult:
    params = ctx.params.tune
    architecture = ctx.params.model.architecture
    images, labels = load_split(ctx.paths.processed, "train")
    subset = stratified_subset(labels, params.train_subset, ctx.seed)
    train = fit_arrays(images[subset], architecture)
    validation = fit_arrays(load_split(ctx.paths.processed, "validation")[0], architecture)
    started = time.perf_counter()
    best, trials = search(
        lambda hp: build(hp, params.search_space, architecture, train[0].shape[1:]),
        params=params, train=train, validation=validation,
        workdir=search_workdir(ctx, params, architecture), seed=ctx.seed, stage=ctx)
    result = finish_search(ctx, params, best, trials, {"tuned_on_samples": len(subset)})
    return StageResult(result.metrics, result.details,
                       {"search_seconds": round(time.perf_counter() - started, 1)})


if __name__ == "__main__":
    main(EXPERIMENT, "tune", tune)
