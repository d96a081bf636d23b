"""train@colourise: the best network of the search trained from scratch on the training
split, early stopping and learning-rate decay on the validation MSE; registered in MLflow."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.colourise.model import build, fit_arrays
from pipeline.experiments.colourise.params import EXPERIMENT
from pipeline.ml.split_files import load_split
from pipeline.ml.training import train_classifier


def train(ctx: StageContext) -> StageResult:
    architecture = ctx.params.model.architecture
    x_train, y_train = fit_arrays(load_split(ctx.paths.processed, "train")[0], architecture)
    validation = fit_arrays(load_split(ctx.paths.processed, "validation")[0], architecture)
    return train_classifier(
        ctx, lambda hp: build(hp, ctx.params.tune.search_space, architecture, x_train.shape[1:]),
        ctx.params.train, (x_train, y_train), validation, samples=len(x_train),
        example_input=x_train[:4])


if __name__ == "__main__":
    main(EXPERIMENT, "train", train)
