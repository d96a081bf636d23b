"""download@grazpedwri_dx: ``dataset.csv`` (verified by figshare's md5, or a mirror copy by its
content), then the requested images (all, or a patient-grouped subset) into ``images/`` (a local
mirror's images as they are, archive members through the verified download cache: see
:mod:`.fetching`), and ``requested.csv``. Synthetic mode writes stand-in radiographs in the
same layout, plus ``marks.csv``."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.context import StageContext, StageResult
from pipeline.core.errors import ParamsError
from pipeline.core.outputs import folder_summary, mark_synthetic
from pipeline.core.runner import main
from pipeline.download.fetch import fetch
from pipeline.download.source import Source
from pipeline.experiments.grazpedwri_dx.fetching import (
    MIRROR_FOLDER,
    ImageFetcher,
    figshare_files,
)
from pipeline.experiments.grazpedwri_dx.figshare import FigshareUnavailable, download_url
from pipeline.experiments.grazpedwri_dx.layout import IMAGES, MARKS_FILE
from pipeline.experiments.grazpedwri_dx.metadata import (
    generate_metadata,
    is_real_metadata,
    read_metadata,
    select_images,
    write_metadata,
    write_requested,
)
from pipeline.experiments.grazpedwri_dx.params import (
    EXPERIMENT,
    METADATA_FILE,
    DownloadParams,
)
from pipeline.experiments.grazpedwri_dx.standins import write_standins

log = logging.getLogger(__name__)

INCLUDE = f"{EXPERIMENT.name}.download.include"  # where select_images' errors point


def metadata_source(params: DownloadParams) -> Source:
    """``dataset.csv`` with figshare's md5, or without it when the API is unreachable."""
    try:
        return figshare_files(params)[METADATA_FILE].source(MIRROR_FOLDER)
    except FigshareUnavailable as error:
        log.warning("%s Without figshare's md5, a mirror copy of %s is accepted only if "
                    "its content is the complete GRAZPEDWRI-DX metadata.", error, METADATA_FILE)
        return Source(MIRROR_FOLDER, download_url(params.files[METADATA_FILE]), METADATA_FILE)


def write_synthetic(out: Path, params: DownloadParams, rng: np.random.Generator) -> list[str]:
    """Stand-in radiographs in the download layout: ``dataset.csv``, ``images/`` and
    ``marks.csv`` (where the fracture-like marks are); returns the stems requested."""
    s = params.synthetic
    if s.metadata is None:
        write_metadata(out / METADATA_FILE, generate_metadata(s.images, rng))
        frame = read_metadata(out / METADATA_FILE)
        stems = select_images(frame, None, params.include, 0, where=INCLUDE)
        real_images = None
    else:
        if not Path(s.metadata).is_file():
            raise ParamsError(f"{EXPERIMENT.name}.download.synthetic.metadata: {s.metadata} "
                              "is not a file")
        shutil.copyfile(s.metadata, out / METADATA_FILE)
        frame = read_metadata(out / METADATA_FILE)
        stems = select_images(frame, s.images, params.include, int(rng.integers(2**31)),
                              where=INCLUDE)
        real_images = Path(s.metadata).parent / IMAGES
    marks = write_standins(out / IMAGES, frame, stems, s.longest_side, rng,
                           real_images=real_images)
    marks.to_csv(out / MARKS_FILE, index=False)
    return stems


def fetch_images(ctx: StageContext) -> tuple[list[str], dict[str, Any]]:
    """The requested images into ``images/``; returns the stems requested and what fetching
    them cost."""
    params = ctx.params.download
    frame = read_metadata(ctx.out / METADATA_FILE)
    stems = select_images(frame, params.images, params.include, ctx.seed, where=INCLUDE)
    fetcher = ImageFetcher(params, ctx.paths.root / ".cache" / "downloads" / EXPERIMENT.name,
                           ctx.mirror)
    missing = fetcher.fetch(stems, ctx.out / IMAGES)
    if missing:
        log.warning("%d requested images are in no archive (preprocess lists them): %s",
                    len(missing), ", ".join(missing[:10]))
    return stems, fetcher.report


def download(ctx: StageContext) -> StageResult:
    params = ctx.params.download
    if ctx.synthetic:
        stems = write_synthetic(ctx.out, params, ctx.rng("synthetic-data"))
        report: dict[str, Any] = {}
        mark_synthetic(ctx.out)
    else:
        fetch(metadata_source(params), ctx.out, mirror=ctx.mirror,
              content_check=is_real_metadata)
        stems, report = fetch_images(ctx)
    write_requested(ctx.out, stems)
    return StageResult(
        {"images_requested": len(stems),
         "images_present": len(list((ctx.out / IMAGES).glob("*.png")))},
        folder_summary(ctx.out),
        report,  # how the images came (cache, range requests): not part of the data
    )


if __name__ == "__main__":
    main(EXPERIMENT, "download", download)
