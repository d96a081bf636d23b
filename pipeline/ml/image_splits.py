"""The preprocess stage of a labelled image set that comes with an official test set (MNIST,
Fashion-MNIST): a stratified validation split from the training images, the test images kept
apart for evaluate, every split scaled and saved."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from pipeline.core.context import StageContext, StageResult
from pipeline.ml.split_files import save_split
from pipeline.ml.splits import class_counts, stratified_indices


def save_official_splits(ctx: StageContext, arrays: Mapping[str, np.ndarray], *,
                         classes: int, scale: Callable[[np.ndarray], np.ndarray]) -> StageResult:
    """``arrays`` holds ``x_train``/``y_train``/``x_test``/``y_test``; the validation
    fraction is ``ctx.params.preprocess.validation_fraction``."""
    keep, held_out = stratified_indices(
        arrays["y_train"], ctx.params.preprocess.validation_fraction, ctx.seed)
    splits = {
        "train": (arrays["x_train"][keep], arrays["y_train"][keep]),
        "validation": (arrays["x_train"][held_out], arrays["y_train"][held_out]),
        "test": (arrays["x_test"], arrays["y_test"]),
    }
    metrics, details = {}, {}
    for split, (x, y) in splits.items():
        save_split(ctx.out, split, scale(x), y.astype("int32"))
        metrics[f"{split}_images"] = len(y)
        details[f"{split}_class_counts"] = class_counts(y, range(classes))
    return StageResult(metrics, details)
