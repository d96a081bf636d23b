"""preprocess@yalefaces: the canonical faces as features (:mod:`.features`), and every
protocol's outer folds and selection sets (:mod:`.protocols`)."""

from __future__ import annotations

import logging

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.yalefaces.canonical import read_canonical
from pipeline.experiments.yalefaces.features import prepare_features
from pipeline.experiments.yalefaces.params import EXPERIMENT
from pipeline.experiments.yalefaces.processed import Processed
from pipeline.experiments.yalefaces.protocols import split_protocols
from pipeline.ml import plots

log = logging.getLogger(__name__)


def preprocess(ctx: StageContext) -> StageResult:
    params = ctx.params.preprocess
    pixels, table = read_canonical(ctx.paths.raw, synthetic=ctx.synthetic)
    features, (height, width), undetected = prepare_features(pixels, params)
    if len(undetected):
        log.warning("yalefaces: no face found in %s; cropped with the median face box",
                    list(table.loc[undetected, "image"]))
    folds, sets = split_protocols(table, params, ctx.seed)
    Processed(features, table.drop(columns="fingerprint"), folds, sets, (height, width)).save(
        ctx.out)
    shown = table.index[table["subject"] <= 2]
    plots.image_gallery(
        ctx.out / "faces.png", features[shown].reshape(-1, height, width),
        list(table.loc[shown, "image"]), columns=11,
        suptitle=f"Prepared faces ({height}x{width}, lighting: {params.lighting})")
    first = folds[folds["repeat"] == 0]
    return StageResult(
        {
            "images": len(table),
            "faces_not_detected": len(undetected),
            "selection_sets": int(sets["selection_set"].nunique()),
        },
        {
            "height": height,
            "width": width,
            "identical_image_groups": int((table["group"].value_counts() > 1).sum()),
            "repeats": params.repeats,
            **{f"{protocol}_outer_folds": int(
                first.loc[first["protocol"] == protocol, "outer_fold"].nunique())
               for protocol in params.protocols},
        },
    )


if __name__ == "__main__":
    main(EXPERIMENT, "preprocess", preprocess)
