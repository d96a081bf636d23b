"""download@mnist: Keras's ``mnist.npz`` (by checksum, or a mirror copy by its arrays), kept
as four canonical ``.npy`` arrays; synthetic mode draws stand-in digits instead."""

from __future__ import annotations

from pipeline.core.context import Metrics, StageContext
from pipeline.core.outputs import folder_summary, mark_synthetic
from pipeline.core.runner import main
from pipeline.download.fetch import fetch
from pipeline.download.source import Source
from pipeline.experiments.mnist.data import (
    check_arrays,
    holds_official_arrays,
    read_npz,
    write_arrays,
)
from pipeline.experiments.mnist.params import EXPERIMENT, DownloadParams
from pipeline.experiments.mnist.synthetic import render_digits

ARCHIVE = "mnist.npz"


def source(params: DownloadParams) -> Source:
    return Source("mnist", params.url, ARCHIVE, sha256=params.sha256, size=params.size)


def download(ctx: StageContext) -> Metrics:
    params = ctx.params.download
    if ctx.synthetic:
        rng = ctx.rng("synthetic-data")
        x_train, y_train = render_digits(params.synthetic_train_images, rng)
        x_test, y_test = render_digits(params.synthetic_test_images, rng)
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        mark_synthetic(ctx.out)
    else:
        archive = fetch(source(params), ctx.out, mirror=ctx.mirror,
                        partials=ctx.paths.partial_downloads,
                        content_check=holds_official_arrays)
        arrays = read_npz(archive)
        check_arrays(arrays, where=archive, synthetic=False)
        archive.unlink()
    write_arrays(ctx.out, arrays)
    return folder_summary(ctx.out)


if __name__ == "__main__":
    main(EXPERIMENT, "download", download)
