"""tune@mnist: KerasTuner over the CNN's space, on (a stratified subset of) the training
split, scored on the validation split."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.mnist.model import build_cnn
from pipeline.experiments.mnist.params import EXPERIMENT
from pipeline.ml.split_files import load_split
from pipeline.ml.tuning import tune_classifier


def tune(ctx: StageContext) -> StageResult:
    params = ctx.params.tune
    return tune_classifier(
        ctx,
        lambda hp: build_cnn(hp, params.search_space, augmentation=None),
        params,
        load_split(ctx.paths.processed, "train"),
        load_split(ctx.paths.processed, "validation"),
    )


if __name__ == "__main__":
    main(EXPERIMENT, "tune", tune)
