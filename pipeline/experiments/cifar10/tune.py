"""tune@cifar10: KerasTuner over the model's space on a stratified subset of the training
split (or the backbone's features of it), scored on the validation split. A preset with
nothing free records its values without searching."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.cifar10.data import model_inputs
from pipeline.experiments.cifar10.model import build_classifier
from pipeline.experiments.cifar10.params import EXPERIMENT
from pipeline.ml.tuning import tune_classifier


def tune(ctx: StageContext) -> StageResult:
    params = ctx.params.tune
    x, y = model_inputs(ctx, "train")
    return tune_classifier(
        ctx,
        lambda hp: build_classifier(hp, params.search_space, ctx.params.model,
                                    augmentation=None, input_shape=x.shape[1:]),
        params,
        (x, y),
        model_inputs(ctx, "validation"),
    )


if __name__ == "__main__":
    main(EXPERIMENT, "tune", tune)
