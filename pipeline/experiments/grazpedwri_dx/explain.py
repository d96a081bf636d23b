"""explain@grazpedwri_dx: Grad-CAM of the fracture logit over the original radiographs (the map
cropped to the unpadded content and resized back), for the surest true positives, false
positives and false negatives of the test split, and any ``explain.extra_images``. On
stand-ins, how often the map's peak falls on the planted mark."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd

from pipeline.core.context import Metrics, StageContext, StageResult
from pipeline.core.errors import ParamsError
from pipeline.core.runner import main
from pipeline.experiments.grazpedwri_dx.images import (
    Geometry,
    intensity_window,
    read_grayscale16,
    read_squares,
)
from pipeline.experiments.grazpedwri_dx.layout import (
    FEATURES_LAYER,
    IMAGES,
    MARK_COLUMNS,
    PREPARED_INFO,
    SPLITS,
    prepared_size,
    read_info,
    read_split,
)
from pipeline.experiments.grazpedwri_dx.params import EXPERIMENT
from pipeline.experiments.grazpedwri_dx.scoring import model_scores, scored_test
from pipeline.ml import plots
from pipeline.ml.attribution import grad_cam

Maps = list[tuple[np.ndarray | None, np.ndarray]]


def explain(ctx: StageContext) -> StageResult:
    params = ctx.params.explain
    count = params.images_per_gallery
    model, test, threshold = scored_test(ctx)
    positive, predicted = test["label"] == 1, test["predicted"] == 1
    galleries = {
        "true_positives": test[positive & predicted].nlargest(count, "score"),
        "false_positives": test[~positive & predicted].nlargest(count, "score"),
        "false_negatives": test[positive & ~predicted].nsmallest(count, "score"),
    }
    if params.extra_images:
        galleries["selected"] = extra_images(ctx, model, params.extra_images)
    metrics: Metrics = {}
    details: Metrics = {"threshold": threshold}
    for name, rows in galleries.items():
        maps = original_maps(ctx, model, rows)
        plots.image_gallery(
            ctx.out / f"gradcam_{name}.png",
            [original for original, _ in maps],
            [f"{stem[:14]}… y={label} p={score:.2f}" for stem, label, score in
             zip(rows["filestem"], rows["label"], rows["score"], strict=True)],
            overlays=[heat for _, heat in maps],
            columns=6,
            suptitle=f"Grad-CAM of the fracture logit: {name.replace('_', ' ')}",
        )
        details[f"{name}_shown"] = len(rows)
    if set(MARK_COLUMNS) <= set(test.columns):
        marked = test[positive & test["x0"].notna()]
        details["marked_positives"] = len(marked)
        metrics["gradcam_peak_on_mark_rate"] = peak_on_mark_rate(
            original_maps(ctx, model, marked, with_originals=False), marked,
            feature_map_size(model))
    return StageResult(metrics, details)


def extra_images(ctx: StageContext, model: keras.Model, stems: Sequence[str]) -> pd.DataFrame:
    """The manifest rows of ``stems`` (in any split), scored."""
    everything = pd.concat([read_split(ctx.paths.processed, split) for split in SPLITS])
    unknown = sorted(set(stems) - set(everything["filestem"]))
    if unknown:
        raise ParamsError(f"explain.extra_images: not among the prepared images: {unknown}")
    extra = everything[everything["filestem"].isin(stems)].copy()
    extra["score"] = model_scores(model, extra, prepared_size(ctx.paths.processed))
    return extra


def original_maps(ctx: StageContext, model: keras.Model, rows: pd.DataFrame,
                  *, with_originals: bool = True) -> Maps:
    """(original radiograph windowed for display, Grad-CAM over it) per row: the map is
    cropped to the unpadded content and resized to the original's size."""
    if rows.empty:
        return []
    maps = grad_cam(model, read_squares(rows["file"]), np.ones(len(rows), dtype=np.int64),
                    FEATURES_LAYER)
    intensity = read_info(ctx.paths.processed / PREPARED_INFO)["intensity"]
    result = []
    for heat, row in zip(maps, rows.itertuples(index=False), strict=True):
        geometry = Geometry(**{field: int(getattr(row, field)) for field in
                               Geometry.__dataclass_fields__})
        original = None
        if with_originals:
            pixels = read_grayscale16(ctx.paths.raw / IMAGES / f"{row.filestem}.png")
            original = intensity_window(pixels, intensity["method"], intensity["low"],
                                        intensity["high"])
        result.append((original, geometry.to_original(heat)))
    return result


def feature_map_size(model: keras.Model) -> int:
    """Cells across the Grad-CAM feature map (its resolution)."""
    return int(model.get_layer(FEATURES_LAYER).output.shape[1])


def peak_on_mark_rate(maps: Sequence[tuple[Any, np.ndarray]], rows: pd.DataFrame,
                      cells: int) -> float | None:
    """Share of images whose Grad-CAM maximum lies on the planted mark: inside its box grown
    by half a feature-map cell (in original pixels), how finely a Grad-CAM peak can be placed.
    """
    if rows.empty:
        return None
    hits = []
    for (_, heat), row in zip(maps, rows.itertuples(index=False), strict=True):
        y, x = np.unravel_index(np.argmax(heat), heat.shape)
        margin = 0.5 * max(row.height, row.width) / cells
        hits.append(row.x0 - margin <= x < row.x1 + margin
                    and row.y0 - margin <= y < row.y1 + margin)
    return float(np.mean(hits))


if __name__ == "__main__":
    main(EXPERIMENT, "explain", explain)
