"""evaluate@vae: the test set, read here for the first time. The negative ELBO in nats per
image, split into reconstruction and KL, on every test image; the importance-weighted bound
(many codes per image) on a stratified subset, beside the ELBO of the same images."""

from __future__ import annotations

import numpy as np

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.vae.data import CLASSES
from pipeline.experiments.vae.params import EXPERIMENT
from pipeline.experiments.vae.scoring import load_vae, score_images
from pipeline.ml.split_files import load_split
from pipeline.ml.splits import stratified_subset


def evaluate(ctx: StageContext) -> StageResult:
    params = ctx.params.evaluate
    x_test, y_test = load_split(ctx.paths.processed, "test")
    model = load_vae(ctx.paths.model)
    every = score_images(model, x_test, params.elbo_samples, params.batch_size,
                         ctx.rng("elbo"))
    subset = stratified_subset(y_test, params.bound_images, ctx.seed)
    bound = score_images(model, x_test[subset], params.importance_samples, params.batch_size,
                         ctx.rng("importance-weighted bound"))
    metrics = {
        "negative_elbo": float(every["negative_elbo"].mean()),
        "reconstruction": float(every["reconstruction"].mean()),
        "kl": float(every["kl"].mean()),
        "negative_iw_bound": float(bound["negative_iw_bound"].mean()),
        "negative_elbo_same_images": float(bound["negative_elbo"].mean()),
    }
    gap = bound["negative_elbo"] - bound["negative_iw_bound"]
    details = {
        "test_images": len(x_test), "bound_images": len(subset),
        "elbo_samples": params.elbo_samples, "importance_samples": params.importance_samples,
        "bound_gap_mean": float(gap.mean()),
        "bound_gap_standard_error": float(gap.std(ddof=1) / np.sqrt(len(gap))),
        "negative_elbo_per_class": [float(every["negative_elbo"][y_test == label].mean())
                                    for label in range(len(CLASSES))],
    }
    return StageResult(metrics, details)


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
