"""tune@grazpedwri_dx: KerasTuner over architectures (small CNN, ImageNet backbones) and their
settings, on (a stratified subset of) the training split streamed from disk, scored on the
validation split; the backbones' weights are resolved here and handed to train."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.grazpedwri_dx.images import image_dataset
from pipeline.experiments.grazpedwri_dx.layout import (
    MODEL_INFO,
    prepared_size,
    read_split,
    write_info,
)
from pipeline.experiments.grazpedwri_dx.model import (
    build_model,
    class_weights,
    warn_without_weights,
)
from pipeline.experiments.grazpedwri_dx.params import EXPERIMENT
from pipeline.experiments.grazpedwri_dx.weights import resolve_weights
from pipeline.ml.splits import stratified_subset
from pipeline.ml.tuning import finish_search, search, search_workdir


def tune(ctx: StageContext) -> StageResult:
    params = ctx.params.tune
    size = prepared_size(ctx.paths.processed)
    train = read_split(ctx.paths.processed, "train")
    validation = read_split(ctx.paths.processed, "validation")
    subset = train.iloc[stratified_subset(train["label"].to_numpy(), params.train_subset,
                                          ctx.seed)]
    weights = resolve_weights(params.imagenet_weights, ctx.paths.root / ".cache" / "weights")
    scratch = warn_without_weights(params.architectures, weights)
    best, trials = search(
        lambda hp: build_model(hp, params.search_space, image_size=size, weights=weights,
                               augmentation=None, seed=ctx.seed),
        params=params,
        train=(image_dataset(subset["file"], subset["label"], image_size=size,
                             batch_size=params.batch_size, shuffle=True, seed=ctx.seed), None),
        validation=(image_dataset(validation["file"], validation["label"], image_size=size,
                                  batch_size=params.batch_size), None),
        workdir=search_workdir(ctx, params),
        seed=ctx.seed,
        class_weight=class_weights(subset["label"].to_numpy()),
        stage=ctx,
    )
    write_info(ctx.out / MODEL_INFO, {"weights": weights})
    return finish_search(ctx, params, best, trials, {
        "tuned_on_images": len(subset), "backbones_from_scratch": len(scratch)})


if __name__ == "__main__":
    main(EXPERIMENT, "tune", tune)
