"""download@vae: Fashion-MNIST's four official IDX files, each by its sha256, kept as they are
published; synthetic mode writes stand-ins in the same format."""

from __future__ import annotations

from pipeline.core.context import Metrics, StageContext
from pipeline.core.errors import ParamsError
from pipeline.core.outputs import mark_synthetic
from pipeline.core.runner import main
from pipeline.download.fetch import fetch
from pipeline.download.source import Source
from pipeline.experiments.vae.data import FILES, read_arrays
from pipeline.experiments.vae.params import EXPERIMENT, DownloadParams
from pipeline.experiments.vae.synthetic import draw_garments
from pipeline.ml.idx import write_idx

DATASET = "fashion-mnist"  # the mirror's folder


def sources(params: DownloadParams) -> list[Source]:
    missing = sorted(set(FILES.values()) - set(params.sha256))
    if missing:
        raise ParamsError(f"vae.download.sha256: no checksum for {', '.join(missing)}")
    return [Source(DATASET, params.base_url.rstrip("/") + "/" + name, name,
                   sha256=params.sha256[name]) for name in FILES.values()]


def download(ctx: StageContext) -> Metrics:
    params = ctx.params.download
    if ctx.synthetic:
        rng = ctx.rng("synthetic-data")
        for split in ("train", "test"):
            images, labels = draw_garments(getattr(params, f"synthetic_{split}_images"), rng)
            write_idx(ctx.out / FILES[f"x_{split}"], images)
            write_idx(ctx.out / FILES[f"y_{split}"], labels)
        mark_synthetic(ctx.out)
    else:
        for source in sources(params):
            fetch(source, ctx.out, mirror=ctx.mirror, partials=ctx.paths.partial_downloads)
    arrays = read_arrays(ctx.out, synthetic=ctx.synthetic)
    return {"train_images": len(arrays["x_train"]), "test_images": len(arrays["x_test"])}


if __name__ == "__main__":
    main(EXPERIMENT, "download", download)
