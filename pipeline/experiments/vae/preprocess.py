"""preprocess@vae: a stratified validation split from the official training set (the report
trained on the test images too, as the Keras example does); the test set kept apart for
evaluate. Images scaled to [0, 1] with a channel axis."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.vae.data import CLASSES, read_arrays, scale_images
from pipeline.experiments.vae.params import EXPERIMENT
from pipeline.ml.image_splits import save_official_splits


def preprocess(ctx: StageContext) -> StageResult:
    return save_official_splits(ctx, read_arrays(ctx.paths.raw, synthetic=ctx.synthetic),
                                classes=len(CLASSES), scale=scale_images)


if __name__ == "__main__":
    main(EXPERIMENT, "preprocess", preprocess)
