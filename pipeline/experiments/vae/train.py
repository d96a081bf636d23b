"""train@vae: the best VAE of the search trained from scratch on the training split, early
stopping and learning-rate decay on the validation negative ELBO; registered in MLflow."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.vae.model import build_vae, targets
from pipeline.experiments.vae.params import EXPERIMENT
from pipeline.ml.split_files import load_split
from pipeline.ml.training import train_classifier


def train(ctx: StageContext) -> StageResult:
    x_train, _ = load_split(ctx.paths.processed, "train")
    x_validation, _ = load_split(ctx.paths.processed, "validation")
    return train_classifier(
        ctx, lambda hp: build_vae(hp, ctx.params.tune.search_space, ctx.seed),
        ctx.params.train, (x_train, targets(x_train)), (x_validation, targets(x_validation)),
        samples=len(x_train), example_input=x_train[:4])


if __name__ == "__main__":
    main(EXPERIMENT, "train", train)
