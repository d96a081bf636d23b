"""download@cifar10: the canonical CIFAR-10 train and test sets (the official archive by its
sha256, or a mirror's PNG zip by content); the mirror's cat and dog photos for explain, when
it has them; and, for the presets on a frozen backbone, its ImageNet weights (by md5).
Synthetic mode draws stand-in images and photos; the weights are fetched all the same."""

from __future__ import annotations

import logging

from pipeline.core.context import Metrics, StageContext
from pipeline.core.outputs import mark_synthetic
from pipeline.core.runner import main
from pipeline.datasets import cifar10
from pipeline.experiments.cifar10.data import PHOTOS, copy_photos, write_standin_photos
from pipeline.experiments.cifar10.params import EXPERIMENT
from pipeline.experiments.cifar10.weights import fetch_weights

log = logging.getLogger(__name__)


def download(ctx: StageContext) -> Metrics:
    params = ctx.params
    counts = cifar10.download(ctx.out, synthetic=ctx.synthetic, rng=ctx.rng("synthetic-data"),
                              mirror=ctx.mirror, partials=ctx.paths.partial_downloads)
    photos = None
    if not params.download.cats_dogs:
        log.info("cats-dogs photos: off (cifar10.download.cats_dogs: false)")
    elif ctx.synthetic:
        log.info("cats-dogs photos: synthetic mode, writing stand-ins instead of the real ones")
        photos = write_standin_photos(ctx.out / PHOTOS, ctx.rng("synthetic-photos"),
                                      params.download.synthetic_photos)
    else:
        photos = copy_photos(ctx.mirror, ctx.out / PHOTOS)
        if photos is None:
            log.warning("cats-dogs photos: no %s/ folder in the mirror (%s); explain will say "
                        "so", PHOTOS, ctx.mirror or "$PIPELINE_MIRROR unset")
    if params.model.architecture == "backbone_head":
        fetch_weights(params.model.backbone, ctx.out, mirror=ctx.mirror,
                      partials=ctx.paths.partial_downloads)
    if ctx.synthetic:
        mark_synthetic(ctx.out)
    return {**counts, "photos": photos or 0}


if __name__ == "__main__":
    main(EXPERIMENT, "download", download)
