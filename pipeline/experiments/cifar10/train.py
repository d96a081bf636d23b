"""train@cifar10: the best model of the search trained from scratch on the training split,
with augmentation, early stopping on the validation split and a plateau or cosine
learning-rate decay."""

from __future__ import annotations

import keras
import keras_tuner as kt

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.cifar10.data import model_inputs
from pipeline.experiments.cifar10.model import build_classifier
from pipeline.experiments.cifar10.params import EXPERIMENT
from pipeline.ml.schedules import cosine_decay_steps
from pipeline.ml.training import train_classifier


def train(ctx: StageContext) -> StageResult:
    params = ctx.params.train
    x, y = model_inputs(ctx, "train")

    def build(hp: kt.HyperParameters) -> keras.Model:
        decay_steps = cosine_decay_steps(params, len(x), hp.values)
        return build_classifier(hp, ctx.params.tune.search_space, ctx.params.model,
                                params.augmentation, input_shape=x.shape[1:],
                                decay_steps=decay_steps)

    return train_classifier(
        ctx,
        build,
        params,
        (x, y),
        model_inputs(ctx, "validation"),
        samples=len(x),
        example_input=x[:4],
    )


if __name__ == "__main__":
    main(EXPERIMENT, "train", train)
