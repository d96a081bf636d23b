"""preprocess@cifar10: a stratified validation split from the 50,000 training images; the
10,000 test images kept apart for evaluate (images stay uint8: the models rescale them). For a
head on a frozen backbone, the backbone's features of every split, computed once here."""

from __future__ import annotations

import keras
import numpy as np

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.datasets import cifar10
from pipeline.experiments.cifar10.backbone import build_backbone, features
from pipeline.experiments.cifar10.data import FEATURES
from pipeline.experiments.cifar10.params import EXPERIMENT
from pipeline.experiments.cifar10.weights import weights_file
from pipeline.ml.image_splits import save_official_splits
from pipeline.ml.split_files import load_split, save_split


def preprocess(ctx: StageContext) -> StageResult:
    train, test = (cifar10.read(ctx.paths.raw, split) for split in cifar10.SPLITS)
    arrays = {"x_train": train.images, "y_train": train.labels,
              "x_test": test.images, "y_test": test.labels}
    result = save_official_splits(ctx, arrays, classes=len(cifar10.CLASSES), scale=np.asarray)
    model = ctx.params.model
    if model.architecture == "backbone_head":
        size = model.backbone.input_size
        backbone = build_backbone(model.backbone, keras.Input((size, size, 3)),
                                  weights_file(ctx.paths.raw, model.backbone))
        (ctx.out / FEATURES).mkdir()
        for split in ("train", "validation", "test"):
            x, y = load_split(ctx.out, split)
            save_split(ctx.out / FEATURES, split, features(
                backbone, x, model.backbone, ctx.params.preprocess.feature_batch_size), y)
        result.metrics["feature_shape"] = list(backbone.output.shape[1:])
    return result


if __name__ == "__main__":
    main(EXPERIMENT, "preprocess", preprocess)
