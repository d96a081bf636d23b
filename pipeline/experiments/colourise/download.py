"""download@colourise: the colour images of ``colourise.download.source`` (CIFAR-10 by
default; Fruits-360, the report's data, needs the internet), kept in the canonical form of
:mod:`pipeline.datasets`; synthetic mode writes stand-ins in the source's own format and reads
them through the same reader."""

from __future__ import annotations

from pipeline.core.context import Metrics, StageContext
from pipeline.core.outputs import mark_synthetic
from pipeline.core.runner import main
from pipeline.experiments.colourise.data import download_source
from pipeline.experiments.colourise.params import EXPERIMENT


def download(ctx: StageContext) -> Metrics:
    counts = download_source(ctx)
    if ctx.synthetic:
        mark_synthetic(ctx.out)
    return counts


if __name__ == "__main__":
    main(EXPERIMENT, "download", download)
