"""The backbones' ImageNet weights: ``keras.applications`` cannot download them offline, so
``tune.imagenet_weights`` names a local file or a URL for each, fetched into a cache folder."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import h5py

from pipeline.core.errors import DownloadError, ParamsError
from pipeline.download.fetch import fetch
from pipeline.download.source import Source
from pipeline.experiments.grazpedwri_dx.params import BACKBONE_NAMES

log = logging.getLogger(__name__)


def resolve_weights(locations: Mapping[str, str], cache: Path) -> dict[str, str | None]:
    """A local file for each configured backbone's ImageNet weights; None (and a loud
    warning) where a URL cannot be fetched. A local path that does not exist is an error."""
    resolved: dict[str, str | None] = {name: None for name in BACKBONE_NAMES}
    for backbone, location in locations.items():
        if urlparse(location).scheme in ("http", "https"):
            filename = Path(urlparse(location).path).name or f"{backbone}.h5"
            try:
                # no checksum is configured: a whole HDF5 file is the least a download must be
                path = fetch(Source("weights", location, filename), cache,
                             content_check=h5py.is_hdf5)
            except DownloadError as error:
                log.warning("%s", error)
                continue
            resolved[backbone] = str(path)
        elif Path(location).is_file():
            resolved[backbone] = str(Path(location).resolve())
        else:
            raise ParamsError(f"tune.imagenet_weights.{backbone}: {location} does not exist")
    return resolved
