"""train@mnist: the best CNN of the search trained from scratch, with augmentation, early
stopping on the validation split and a cosine (or plateau) learning-rate decay."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.mnist.model import build_cnn
from pipeline.experiments.mnist.params import EXPERIMENT
from pipeline.ml.schedules import cosine_decay_steps
from pipeline.ml.split_files import load_split
from pipeline.ml.training import train_classifier


def train(ctx: StageContext) -> StageResult:
    params = ctx.params.train
    x_train, y_train = load_split(ctx.paths.processed, "train")
    return train_classifier(
        ctx,
        lambda hp: build_cnn(hp, ctx.params.tune.search_space, params.augmentation,
                             cosine_decay_steps(params, len(x_train), hp.values)),
        params,
        (x_train, y_train),
        load_split(ctx.paths.processed, "validation"),
        samples=len(x_train),
        example_input=x_train[:4],
    )


if __name__ == "__main__":
    main(EXPERIMENT, "train", train)
