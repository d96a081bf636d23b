"""train@grazpedwri_dx: the best model of the search trained from scratch (backbones from
their ImageNet weights) on the training split streamed from disk, with augmentation, balanced
class weights, early stopping and learning-rate decay on the validation split."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.grazpedwri_dx.images import image_dataset, read_squares
from pipeline.experiments.grazpedwri_dx.layout import (
    FEATURES_LAYER,
    MODEL_INFO,
    prepared_size,
    read_info,
    read_split,
    write_info,
)
from pipeline.experiments.grazpedwri_dx.model import (
    build_model,
    class_weights,
    warn_without_weights,
)
from pipeline.experiments.grazpedwri_dx.params import EXPERIMENT
from pipeline.ml.search_space import read_best
from pipeline.ml.training import train_classifier

EXAMPLE_IMAGES = 4  # prepared squares the registered model's signature is inferred from


def train(ctx: StageContext) -> StageResult:
    params = ctx.params.train
    size = prepared_size(ctx.paths.processed)
    train = read_split(ctx.paths.processed, "train")
    validation = read_split(ctx.paths.processed, "validation")
    weights = read_info(ctx.paths.tune / MODEL_INFO)["weights"]
    architecture = read_best(ctx.paths.tune).get("architecture", "small_cnn")
    scratch = warn_without_weights([architecture], weights)
    result = train_classifier(
        ctx,
        lambda hp: build_model(hp, hp.values, image_size=size, weights=weights,
                               augmentation=params.augmentation, seed=ctx.seed),
        params,
        (image_dataset(train["file"], train["label"], image_size=size,
                       batch_size=params.batch_size, shuffle=True, seed=ctx.seed), None),
        (image_dataset(validation["file"], validation["label"], image_size=size,
                       batch_size=params.batch_size), None),
        samples=len(train),
        example_input=read_squares(train["file"][:EXAMPLE_IMAGES]),
        class_weight=class_weights(train["label"].to_numpy()),
    )
    write_info(ctx.out / MODEL_INFO,
               {"architecture": architecture, "image_size": size,
                "features_layer": FEATURES_LAYER, "imagenet_weights": weights.get(architecture)})
    return StageResult(result.metrics, {
        **result.details,
        "architecture": architecture,
        "trained_from_scratch": bool(scratch) or architecture == "small_cnn",
    })


if __name__ == "__main__":
    main(EXPERIMENT, "train", train)
