"""tune@vae: KerasTuner over the VAE's space (latent size, widths, learning rate), on a
stratified subset of the training split, scored by the validation negative ELBO."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.vae.model import build_vae, targets
from pipeline.experiments.vae.params import EXPERIMENT
from pipeline.ml.split_files import load_split
from pipeline.ml.tuning import tune_classifier


def tune(ctx: StageContext) -> StageResult:
    params = ctx.params.tune
    x_validation, _ = load_split(ctx.paths.processed, "validation")
    return tune_classifier(
        ctx, lambda hp: build_vae(hp, params.search_space, ctx.seed), params,
        load_split(ctx.paths.processed, "train"), (x_validation, targets(x_validation)),
        targets=targets)


if __name__ == "__main__":
    main(EXPERIMENT, "tune", tune)
