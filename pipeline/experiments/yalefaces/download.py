"""download@yalefaces: the original database, verified by content (its checksum is not known),
kept in the canonical form of :mod:`.canonical`; synthetic mode draws stand-in faces instead.

The extracted files come from a mirror folder when it holds them, else the zip from the mirror
or the network (:func:`pipeline.download.fetch.fetch`); either way the output is the same."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pipeline.core.context import Metrics, StageContext
from pipeline.core.errors import DownloadError
from pipeline.core.outputs import folder_summary, mark_synthetic
from pipeline.core.runner import main
from pipeline.download.fetch import fetch
from pipeline.download.source import Source
from pipeline.experiments.yalefaces.canonical import database_table, write_canonical
from pipeline.experiments.yalefaces.database import (
    ARCHIVE,
    extracted_mirror,
    original_file,
    verify_archive,
    verify_database,
)
from pipeline.experiments.yalefaces.layout import IMAGE_NAMES
from pipeline.experiments.yalefaces.params import EXPERIMENT, DownloadParams
from pipeline.experiments.yalefaces.synthetic import synthetic_faces

log = logging.getLogger(__name__)


def source(params: DownloadParams) -> Source:
    return Source("yalefaces", params.url, ARCHIVE)


def download(ctx: StageContext) -> Metrics:
    if ctx.synthetic:
        faces = synthetic_faces(ctx.rng("synthetic-data"))
        pixels = np.stack([faces[name] for name in IMAGE_NAMES])
        table = database_table(pixels, [original_file(name) for name in IMAGE_NAMES])
        origin = "synthetic"
        mark_synthetic(ctx.out)
    else:
        pixels, table, origin = real_database(ctx)
    write_canonical(ctx.out, pixels, table)
    log.info("yalefaces: the database came from the %s", origin)  # not part of the data
    return {
        **folder_summary(ctx.out),
        "images": len(table),
        "identical_image_groups": int((table["group"].value_counts() > 1).sum()),
    }


def real_database(ctx: StageContext) -> tuple[np.ndarray, pd.DataFrame, str]:
    """The verified faces, their table and where they came from: the extracted files of a
    mirror folder, else the archive (mirror or network)."""
    folder = extracted_mirror(ctx.mirror)
    if folder is not None:
        try:
            pixels, table = verify_database(folder, where=folder, ignore_other_files=True)
            return pixels, table, "mirror folder"
        except DownloadError as error:
            log.warning("Ignoring the mirror folder %s (%s); fetching the archive", folder,
                        error)
    archive = fetch(source(ctx.params.download), ctx.out, mirror=ctx.mirror,
                    partials=ctx.paths.partial_downloads,
                    content_check=lambda path: verify_archive(path) is not None)
    try:
        pixels, table = verify_archive(archive)
    finally:
        archive.unlink()
    return pixels, table, "archive"


if __name__ == "__main__":
    main(EXPERIMENT, "download", download)
