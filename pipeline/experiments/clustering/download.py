"""download@clustering: the datasets the configured pairs come from (CIFAR-10, Fruits-360),
each fetched, verified and kept in its canonical form by :mod:`pipeline.datasets`, in a
folder of its own; synthetic mode writes stand-ins in the same formats."""

from __future__ import annotations

from pipeline.core.context import Metrics, StageContext
from pipeline.core.outputs import mark_synthetic
from pipeline.core.runner import main
from pipeline.datasets import cifar10, fruits360
from pipeline.experiments.clustering.params import EXPERIMENT


def download(ctx: StageContext) -> Metrics:
    pairs = ctx.params.pairs_run().values()
    common = {"synthetic": ctx.synthetic, "rng": ctx.rng("synthetic-data"),
              "mirror": ctx.mirror, "partials": ctx.paths.partial_downloads}
    metrics: Metrics = {}
    if any(pair.dataset == "cifar10" for pair in pairs):
        (ctx.out / "cifar10").mkdir()
        counts = cifar10.download(ctx.out / "cifar10", **common)
        metrics |= {f"cifar10_{key}": value for key, value in counts.items()}
    fruits = sorted({name for pair in pairs if pair.dataset == "fruits360"
                     for name in pair.classes})
    if fruits:
        (ctx.out / "fruits360").mkdir()
        counts = fruits360.download(
            ctx.out / "fruits360", **common, classes=fruits,
            synthetic_per_class=ctx.params.download.fruits360_synthetic_per_class)
        metrics |= {f"fruits360_{key}": value for key, value in counts.items()}
    if ctx.synthetic:
        mark_synthetic(ctx.out)
    return metrics


if __name__ == "__main__":
    main(EXPERIMENT, "download", download)
