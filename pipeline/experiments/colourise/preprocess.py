"""preprocess@colourise: a stratified validation split from the source's training images,
and stratified subsets of both (sized so the experiment fits its time budget). The test
images are not read here: evaluate is their only reader. Images stay uint8 RGB; each stage
derives the Lab arrays its model needs."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.colourise.data import read_split
from pipeline.experiments.colourise.params import EXPERIMENT
from pipeline.ml.split_files import save_split
from pipeline.ml.splits import class_counts, stratified_indices, stratified_subset


def preprocess(ctx: StageContext) -> StageResult:
    params = ctx.params.preprocess
    source = read_split(ctx.paths.raw, ctx.params.download, "train")
    keep, held_out = stratified_indices(source.labels, params.validation_fraction, ctx.seed)
    splits = {"train": keep[stratified_subset(source.labels[keep], params.train_images,
                                              ctx.seed)],
              "validation": held_out[stratified_subset(source.labels[held_out],
                                                       params.validation_images, ctx.seed)]}
    metrics, details = {}, {"classes": source.classes}
    for split, chosen in splits.items():
        labels = source.labels[chosen]
        save_split(ctx.out, split, source.images[chosen], labels.astype("int32"))
        metrics[f"{split}_images"] = len(chosen)
        details[f"{split}_class_counts"] = class_counts(labels, range(len(source.classes)))
    return StageResult(metrics, details)


if __name__ == "__main__":
    main(EXPERIMENT, "preprocess", preprocess)
