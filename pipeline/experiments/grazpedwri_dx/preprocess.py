"""preprocess@grazpedwri_dx: patient-grouped, label-stratified splits over the whole
``dataset.csv``; each requested image windowed, fitted to a square and written as a 16-bit
PNG; one manifest per split (file, label, metadata, geometry and, synthetic, the marks).
Missing or unreadable images are listed, and fail the stage beyond
``preprocess.max_bad_fraction``."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.errors import DataError
from pipeline.core.runner import main
from pipeline.experiments.grazpedwri_dx.images import (
    Geometry,
    UnreadableImage,
    fit_square,
    intensity_window,
    read_grayscale16,
    write_png16,
)
from pipeline.experiments.grazpedwri_dx.layout import (
    IMAGES,
    MARK_COLUMNS,
    MARKS_FILE,
    PREPARED_INFO,
    REQUESTED_FILE,
    SPLITS,
    write_info,
)
from pipeline.experiments.grazpedwri_dx.metadata import read_metadata, read_requested
from pipeline.experiments.grazpedwri_dx.params import (
    EXPERIMENT,
    METADATA_FILE,
    IntensityParams,
    PreprocessParams,
)
from pipeline.ml.grouped_splits import grouped_stratified_split

log = logging.getLogger(__name__)

METADATA_KEPT = ("patient_id", "age", "gender", "projection", "laterality", "cast", "metal",
                 "diagnosis_uncertain")


def prepare_image(source: Path, target: Path, size: int, intensity: IntensityParams
                  ) -> Geometry:
    """One radiograph windowed, fitted to a ``size`` square and written as a 16-bit PNG."""
    pixels = read_grayscale16(source)
    windowed = intensity_window(pixels, intensity.method, intensity.low, intensity.high)
    square, geometry = fit_square(windowed, size)
    write_png16(target, square)
    return geometry


def prepare_all(raw: Path, out: Path, chosen: pd.DataFrame, params: PreprocessParams
                ) -> tuple[dict[str, Geometry], list[tuple[str, str]]]:
    """Every chosen image prepared into ``out/images/<split>/`` in parallel; returns the
    geometry of each prepared one and (file, problem) of each that could not be."""
    for split in SPLITS:
        (out / IMAGES / split).mkdir(parents=True)

    def one(stem: str, split: str) -> tuple[str, Geometry | str]:
        try:
            return stem, prepare_image(raw / IMAGES / f"{stem}.png",
                                       out / IMAGES / split / f"{stem}.png", params.size,
                                       params.intensity)
        except UnreadableImage as error:
            return stem, str(error)

    with ThreadPoolExecutor(params.workers or os.cpu_count()) as pool:
        results = list(pool.map(one, chosen["filestem"], chosen["split"]))
    geometries = {stem: r for stem, r in results if isinstance(r, Geometry)}
    bad = [(f"{stem}.png", r) for stem, r in results if isinstance(r, str)]
    return geometries, bad


def check_bad(bad: list[tuple[str, str]], requested: int, raw: Path,
              max_bad_fraction: float) -> None:
    """Fail when more than ``max_bad_fraction`` of the requested images are bad; else warn."""
    if len(bad) > max_bad_fraction * requested:
        listed = "; ".join(f"{file}: {problem}" for file, problem in bad[:10])
        raise DataError(
            f"{len(bad)} of {requested} requested images in {raw / IMAGES} are missing or "
            f"unreadable (more than preprocess.max_bad_fraction = {max_bad_fraction}): "
            f"{listed}{' ...' if len(bad) > 10 else ''}"
        )
    for file, problem in bad:
        log.warning("skipped %s: %s", file, problem)


def preprocess(ctx: StageContext) -> StageResult:
    params = ctx.params.preprocess
    raw = ctx.paths.raw
    frame = read_metadata(raw / METADATA_FILE)
    fractions = {"train": 1 - params.validation_fraction - params.test_fraction,
                 "validation": params.validation_fraction, "test": params.test_fraction}
    frame["split"] = grouped_stratified_split(frame["label"].to_numpy(),
                                              frame["patient_id"].to_numpy(), fractions,
                                              ctx.seed)
    frame[["filestem", "patient_id", "label", "split"]].to_csv(ctx.out / "split.csv",
                                                               index=False)
    shared_patients = int((frame.groupby("patient_id")["split"].nunique() > 1).sum())
    requested = read_requested(raw)
    unknown = sorted(set(requested) - set(frame["filestem"]))
    if unknown:
        raise DataError(f"{raw / REQUESTED_FILE}: stems not in {METADATA_FILE}: {unknown[:5]}")
    chosen = frame.set_index("filestem").loc[requested].reset_index()
    geometries, bad = prepare_all(raw, ctx.out, chosen, params)
    pd.DataFrame(bad, columns=["file", "problem"]).to_csv(ctx.out / "bad_images.csv",
                                                           index=False)
    check_bad(bad, len(chosen), raw, params.max_bad_fraction)
    kept = chosen[chosen["filestem"].isin(geometries)].copy()
    geometry = pd.DataFrame([geometries[stem].as_dict() for stem in kept["filestem"]],
                            index=kept.index)
    kept = pd.concat([kept, geometry], axis=1)
    kept["file"] = [f"{IMAGES}/{split}/{stem}.png"
                    for split, stem in zip(kept["split"], kept["filestem"], strict=True)]
    if (raw / MARKS_FILE).is_file():
        kept = kept.merge(pd.read_csv(raw / MARKS_FILE, dtype={"filestem": str}), on="filestem",
                          how="left")
    columns = ["filestem", "file", "label", *METADATA_KEPT, *geometry.columns,
               *[c for c in MARK_COLUMNS if c in kept]]
    metrics = {"patients_in_two_splits": shared_patients, "bad_images": len(bad)}
    details = {"csv_rows": len(frame), "csv_patients": int(frame.patient_id.nunique()),
               "requested_images": len(chosen)}
    for split in SPLITS:
        rows = frame[frame["split"] == split]
        part = kept[kept["split"] == split]
        part[columns].to_csv(ctx.out / f"{split}.csv", index=False)
        metrics[f"{split}_images"] = len(part)
        details.update({
            f"csv_{split}_images": len(rows),
            f"csv_{split}_patients": int(rows["patient_id"].nunique()),
            f"csv_{split}_positive_rate": round(float(rows["label"].mean()), 4),
            f"{split}_positive_rate": (round(float(part["label"].mean()), 4)
                                       if len(part) else None),
        })
    write_info(ctx.out / PREPARED_INFO,
               {"size": params.size, "intensity": params.intensity.model_dump()})
    return StageResult(metrics, details)


if __name__ == "__main__":
    main(EXPERIMENT, "preprocess", preprocess)
