"""preprocess@clustering: for each pair, its two classes of the official training images with
a stratified, seeded validation split (for early stopping only), and its test images kept
apart for evaluate; uint8 RGB, the colour mode is applied when a model reads them."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.clustering.data import read_pair, save_classes
from pipeline.experiments.clustering.params import EXPERIMENT
from pipeline.ml.split_files import save_split
from pipeline.ml.splits import class_counts, stratified_indices


def preprocess(ctx: StageContext) -> StageResult:
    metrics, details = {}, {}
    for task, pair in ctx.params.pairs_run().items():
        train, test = (read_pair(ctx.paths.raw, pair, split) for split in ("train", "test"))
        keep, held_out = stratified_indices(train.labels, ctx.params.preprocess
                                            .validation_fraction, ctx.seed)
        folder = ctx.out / task
        folder.mkdir()
        splits = {"train": (train.images[keep], train.labels[keep]),
                  "validation": (train.images[held_out], train.labels[held_out]),
                  "test": (test.images, test.labels)}
        for split, (images, labels) in splits.items():
            save_split(folder, split, images, labels.astype("int32"))
            metrics[f"{task}_{split}_images"] = len(labels)
            details[f"{task}_{split}_class_counts"] = class_counts(labels, range(2))
        save_classes(folder, pair)
        details[f"{task}_image_shape"] = list(train.images.shape[1:])
    return StageResult(metrics, details)


if __name__ == "__main__":
    main(EXPERIMENT, "preprocess", preprocess)
