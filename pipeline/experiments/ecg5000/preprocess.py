"""preprocess@ecg5000: every row parsed (unusable rows and repeated beats dropped and counted,
or the stage failed, by ``preprocess.invalid_rows``), the splits made (UCR: validation held
out of the official training file; csv: test and validation held out of the one file, both
stratified), the samples standardised with the training split's mean and deviation."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.errors import DataError, ParamsError
from pipeline.core.runner import main
from pipeline.experiments.ecg5000.beats import (
    CSV_LAYOUT,
    UCR_LAYOUT,
    Beats,
    Issue,
    Layout,
    duplicate_issues,
    read_beats,
)
from pipeline.experiments.ecg5000.labels import (
    CLASSES_FILE,
    UCR_CLASSES,
    class_names,
    class_weights,
    classes_record,
    task_labels,
    training_class_names,
)
from pipeline.experiments.ecg5000.layout import CSV_FILE, UCR_TEST, UCR_TRAIN
from pipeline.experiments.ecg5000.params import EXPERIMENT, PreprocessParams
from pipeline.ml.split_files import save_split
from pipeline.ml.splits import class_counts, stratified_indices

log = logging.getLogger(__name__)

ISSUES_FILE = "issues.csv"
SCALER_FILE = "scaler.json"
CLASS_WEIGHTS_FILE = "class_weights.json"
Split = tuple[np.ndarray, np.ndarray]


def read_raw_files(raw: Path, p: PreprocessParams) -> dict[str, tuple[Path, Layout]]:
    """The downloaded files and their layout: both UCR files, or the one csv."""
    if (raw / CSV_FILE).exists():
        if p.task == "multiclass":
            raise ParamsError(
                f"ecg5000.preprocess.task: multiclass needs the UCR files; {raw / CSV_FILE} has "
                "only normal/abnormal labels (use task: binary, or download.layout: ucr)"
            )
        if p.binary_training_labels == "beat_classes":
            raise ParamsError(
                "ecg5000.preprocess.binary_training_labels: beat_classes needs the UCR files; "
                f"{raw / CSV_FILE} has only normal/abnormal labels: set it to normal_abnormal "
                "(dvc exp run -S ecg5000.preprocess.binary_training_labels=normal_abnormal)"
            )
        return {CSV_FILE: (raw / CSV_FILE, CSV_LAYOUT)}
    missing = [name for name in (UCR_TRAIN, UCR_TEST) if not (raw / name).exists()]
    if missing:
        raise DataError(f"{raw}: {', '.join(missing)} missing: run the download stage again")
    return {name: (raw / name, UCR_LAYOUT) for name in (UCR_TRAIN, UCR_TEST)}


def usable_beats(raw: Path, p: PreprocessParams) -> tuple[dict[str, Beats], list[Issue], int]:
    """Every file's usable, first-seen beats; the issues of the rows left out (unparsable
    first, then duplicates), and how many of them are duplicates. With ``invalid_rows:
    fail``, any issue fails the stage, listing the first 20."""
    files = read_raw_files(raw, p)
    parsed = {name: read_beats(path, layout) for name, (path, layout) in files.items()}
    keep, duplicates = duplicate_issues([(name, beats) for name, (beats, _) in parsed.items()])
    issues = [issue for _, found in parsed.values() for issue in found] + duplicates
    if issues and p.invalid_rows == "fail":
        shown = "\n".join(f"  {i.file} row {i.row}: {i.problem}" for i in issues[:20])
        more = f"\n  ... and {len(issues) - 20} more" if len(issues) > 20 else ""
        raise DataError(
            f"{raw}: {len(issues)} unusable rows (preprocess.invalid_rows: fail; "
            f"set it to drop to leave them out and count them):\n{shown}{more}"
        )
    for issue in issues[:20]:
        log.warning("dropped %s row %d: %s", issue.file, issue.row, issue.problem)
    beats = {
        name: Beats(b.samples[mask], b.labels[mask], b.rows[mask])
        for (name, (b, _)), mask in zip(parsed.items(), keep, strict=True)
    }
    for name, kept in beats.items():
        if not len(kept.labels):
            raise DataError(f"{files[name][0]}: no usable row is left")
    return beats, issues, len(duplicates)


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int, file: str
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stratified_indices`, with a clear error when a class is too small to split."""
    try:
        return stratified_indices(labels, fraction, seed)
    except ValueError as error:
        counts = dict(enumerate(np.bincount(labels).tolist()))
        raise DataError(
            f"{file}: cannot hold out {fraction:g} of the usable beats per class "
            f"(beats per class: {counts}): {error}"
        ) from error


def split(beats: dict[str, Beats], p: PreprocessParams, seed: int) -> dict[str, Split]:
    """train / validation as (samples, training labels), test as (samples, task labels).
    UCR: the official test file, validation held out of the training file, stratified by
    beat class. csv: both held out of the one file, stratified by its label."""
    if CSV_FILE in beats:
        data = beats[CSV_FILE]
        y = (data.labels != p.csv_normal_label).astype("int64")  # 1 = abnormal
        rest, test = stratified_split(y, p.test_fraction, seed, CSV_FILE)
        pool_x, pool_y, test_xy = data.samples[rest], y[rest], (data.samples[test], y[test])
        strata = pool_y
    else:
        train, test_data = beats[UCR_TRAIN], beats[UCR_TEST]
        pool_x, strata = train.samples, train.labels
        fine = training_class_names(p) == UCR_CLASSES
        pool_y = train.labels - 1 if fine else task_labels(train.labels, p.task)
        test_xy = (test_data.samples, task_labels(test_data.labels, p.task))
    kept, held_out = stratified_split(strata, p.validation_fraction, seed,
                                      UCR_TRAIN if UCR_TRAIN in beats else CSV_FILE)
    return {
        "train": (pool_x[kept], pool_y[kept]),
        "validation": (pool_x[held_out], pool_y[held_out]),
        "test": test_xy,
    }


def fit_scaler(x: np.ndarray) -> dict[str, float]:
    """One mean and standard deviation over all training samples: UCR beats are already
    z-normalised one by one, and a per-time-step scaler would flatten their shape."""
    return {"mean": float(x.mean()), "std": float(x.std()) or 1.0}


def scale(x: np.ndarray, scaler: dict[str, float]) -> np.ndarray:
    """(N, 140) → float32 (N, 140, 1), standardised with the training split's scaler."""
    return ((x - scaler["mean"]) / scaler["std"]).astype("float32")[..., None]


def preprocess(ctx: StageContext) -> StageResult:
    p = ctx.params.preprocess
    beats, issues, duplicates = usable_beats(ctx.paths.raw, p)
    pd.DataFrame(
        [(i.file, i.row, i.problem) for i in issues], columns=["file", "row", "problem"]
    ).to_csv(ctx.out / ISSUES_FILE, index=False)
    splits = split(beats, p, ctx.seed)
    scaler = fit_scaler(splits["train"][0])
    (ctx.out / SCALER_FILE).write_text(json.dumps(scaler, indent=2))
    (ctx.out / CLASSES_FILE).write_text(json.dumps(classes_record(p)))
    trained_on = training_class_names(p)
    metrics = {"rows_dropped": len(issues)}
    details = {
        "layout": "csv" if CSV_FILE in beats else "ucr",
        "task": p.task,
        "rows_dropped_duplicate": duplicates,
        "rows_dropped_unparsable": len(issues) - duplicates,
    }
    for name, (x, y) in splits.items():
        save_split(ctx.out, name, scale(x, scaler), y.astype("int32"))
        metrics[f"{name}_beats"] = len(y)
        details[f"{name}_class_counts"] = class_counts(
            y, range(len(class_names(p) if name == "test" else trained_on)))
    weights = class_weights(splits["train"][1], len(trained_on), p.class_weights)
    (ctx.out / CLASS_WEIGHTS_FILE).write_text(json.dumps(weights, indent=2))
    return StageResult(metrics, details)


if __name__ == "__main__":
    main(EXPERIMENT, "preprocess", preprocess)
