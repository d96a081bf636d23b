"""A frozen backbone's ImageNet weights, fetched and verified as Keras fetches them.

Keras's own loader (``weights="imagenet"``) downloads to ``~/.keras`` with no mirror; here the
same file (``keras.applications.resnet``'s URL and md5) goes through :func:`fetch`, so a
mirror copy (``<mirror>/keras-applications/<file>``) works offline, and where it cannot be had
the stage stops: a backbone is never left with random weights.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.core.errors import DownloadError, PipelineError
from pipeline.download.fetch import fetch
from pipeline.download.source import Source
from pipeline.experiments.cifar10.params import BackboneParams

WEIGHTS_DATASET = "keras-applications"  # <mirror>/keras-applications/<filename>
WEIGHTS_FOLDER = "weights"  # in the download stage's output


def weights_source(params: BackboneParams) -> Source:
    return Source(WEIGHTS_DATASET, params.url, params.filename, md5=params.md5)


def fetch_weights(params: BackboneParams, raw: Path, *, mirror: str | None,
                  partials: Path) -> Path:
    """The verified weights file in ``raw/weights/``, or a DownloadError that says the preset
    cannot run without it."""
    try:
        return fetch(weights_source(params), raw / WEIGHTS_FOLDER, mirror=mirror,
                     partials=partials)
    except DownloadError as error:
        raise DownloadError(
            f"the ImageNet weights of {params.architecture} could not be had, and this preset "
            f"needs them (a frozen backbone with random weights would be meaningless):\n{error}"
        ) from None


def weights_file(raw: Path, params: BackboneParams) -> Path:
    path = raw / WEIGHTS_FOLDER / params.filename
    if not path.is_file():
        raise PipelineError(f"{path} is missing: run the download stage with this preset")
    return path
