"""The colour images: downloaded and read from the source ``colourise.download.source`` names
(CIFAR-10 by default; Fruits-360, the report's data, where it can be fetched)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pipeline.core.context import StageContext
from pipeline.datasets import cifar10, fruits360
from pipeline.datasets.images import ImageSet
from pipeline.experiments.colourise.params import DownloadParams

# each source's own names for its two splits
_SPLITS = {"cifar10": {"train": "train", "test": "test"},
           "fruits360": {"train": "Training", "test": "Test"}}


def download_source(ctx: StageContext) -> dict[str, int]:
    """Write the source's training and test images into ``ctx.out``; return their counts."""
    params: DownloadParams = ctx.params.download
    common = {"synthetic": ctx.synthetic, "rng": ctx.rng("synthetic-data"), "mirror": ctx.mirror,
              "partials": ctx.paths.partial_downloads}
    if params.source == "cifar10":
        return cifar10.download(ctx.out, **common)
    return fruits360.download(ctx.out, **common, classes=params.fruits360_classes,
                              synthetic_per_class=params.synthetic_per_class)


def read_split(folder: Path, params: DownloadParams, split: Literal["train", "test"]
               ) -> ImageSet:
    """The downloaded ``split`` of the source: uint8 RGB images, their classes and names."""
    name = _SPLITS[params.source][split]
    if params.source == "cifar10":
        return cifar10.read(folder, name)
    return fruits360.read(folder, name, params.fruits360_classes)
