"""preprocess@vae: a stratified validation split from the official training set (the report
trained on the test images too, as the Keras example does); the test set kept apart for
evaluate. Images scaled to [0, 1] with a channel axis."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.vae.data import CLASSES, read_arrays, scale_images
from pipeline.experiments.vae.params import EXPERIMENT
from pipeline.ml.split_files import save_split
from pipeline.ml.splits import class_counts, stratified_indices


def preprocess(ctx: StageContext) -> StageResult:
    arrays = read_arrays(ctx.paths.raw, synthetic=ctx.synthetic)
    keep, held_out = stratified_indices(arrays["y_train"],
                                        ctx.params.preprocess.validation_fraction, ctx.seed)
    splits = {
        "train": (arrays["x_train"][keep], arrays["y_train"][keep]),
        "validation": (arrays["x_train"][held_out], arrays["y_train"][held_out]),
        "test": (arrays["x_test"], arrays["y_test"]),
    }
    metrics, details = {}, {}
    for split, (x, y) in splits.items():
        save_split(ctx.out, split, scale_images(x), y.astype("int32"))
        metrics[f"{split}_images"] = len(y)
        details[f"{split}_class_counts"] = class_counts(y, range(len(CLASSES)))
    return StageResult(metrics, details)


if __name__ == "__main__":
    main(EXPERIMENT, "preprocess", preprocess)
