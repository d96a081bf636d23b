"""preprocess@sysid: the splits. The report system's rows are independent draws, so they are
split at random (test, then validation from the rest); the stable system's identification
record is one time series, so its validation part is its last stretch (no sample of it sits
between training samples), and its test split is the held-out record."""

from __future__ import annotations

from sklearn.model_selection import train_test_split

from pipeline.core.context import Metrics, StageContext
from pipeline.core.runner import main
from pipeline.experiments.sysid import records
from pipeline.experiments.sysid.params import EXPERIMENT
from pipeline.experiments.sysid.systems import regressors
from pipeline.ml.split_files import save_split


def preprocess(ctx: StageContext) -> Metrics:
    params = ctx.params.preprocess
    rows, targets = records.read_regressors(ctx.paths.raw)
    rest_x, test_x, rest_y, test_y = train_test_split(
        rows, targets, test_size=params.test_fraction, random_state=ctx.seed)
    train_x, validation_x, train_y, validation_y = train_test_split(
        rest_x, rest_y, test_size=params.validation_fraction, random_state=ctx.seed)
    splits = {"report_train": (train_x, train_y),
              "report_validation": (validation_x, validation_y),
              "report_test": (test_x, test_y)}

    identification = records.read_record(ctx.paths.raw, "identification")
    rows, targets = regressors(identification["x"], identification["y"])
    cut = round(len(rows) * (1 - params.validation_fraction))
    held_out = records.read_record(ctx.paths.raw, "held_out")
    splits |= {"stable_train": (rows[:cut], targets[:cut]),
               "stable_validation": (rows[cut:], targets[cut:]),
               "stable_test": regressors(held_out["x"], held_out["y"])}
    for name, (x, y) in splits.items():
        save_split(ctx.out, name, x, y)
    return {f"{name}_rows": len(x) for name, (x, _) in splits.items()}


if __name__ == "__main__":
    main(EXPERIMENT, "preprocess", preprocess)
