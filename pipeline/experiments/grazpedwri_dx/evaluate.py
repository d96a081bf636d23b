"""evaluate@grazpedwri_dx: the test split, read here for the first time, at the threshold
chosen on validation: ROC-AUC, accuracy, sensitivity and specificity, the confusion matrix,
ROC and precision-recall curves, every test prediction, and the same figures per age band,
projection and cast."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.grazpedwri_dx.layout import CLASSES
from pipeline.experiments.grazpedwri_dx.params import EXPERIMENT
from pipeline.experiments.grazpedwri_dx.scoring import binary_rates, scored_test, subgroup_table
from pipeline.ml.evaluation import (
    classification_metrics,
    write_binary_curves,
    write_confusion_matrix,
    write_predictions,
)

HEADLINE = ("roc_auc", "accuracy", "sensitivity", "specificity", "threshold")
SUBGROUP_FIGURES = ("images", "roc_auc", "sensitivity", "specificity")


def evaluate(ctx: StageContext) -> StageResult:
    _, test, threshold = scored_test(ctx)
    labels, predicted = test["label"].to_numpy(), test["predicted"].to_numpy()
    scores = test["score"].to_numpy()
    result = classification_metrics(labels, predicted, CLASSES, scores)
    write_predictions(ctx.plots / "predictions.csv", labels, predicted, CLASSES)
    write_confusion_matrix(ctx.out, labels, predicted, CLASSES)
    write_binary_curves(ctx.out, labels, scores)
    test[["filestem", "label", "score", "predicted"]].to_csv(
        ctx.out / "test_predictions.csv", index=False, float_format="%.6g")
    subgroups = subgroup_table(test, ctx.params.evaluate.age_bands)
    subgroups.to_csv(ctx.out / "subgroups.csv", index=False, float_format="%.6g")
    figures = {**result.metrics, **result.details, **binary_rates(labels, predicted),
               "threshold": threshold}
    return StageResult(
        {name: figures[name] for name in HEADLINE},
        {**{name: value for name, value in figures.items() if name not in HEADLINE},
         **subgroup_figures(subgroups)},
    )


def subgroup_figures(subgroups: pd.DataFrame) -> dict[str, Any]:
    """``subgroup.<group>.<value>.<figure>`` for every figure a subgroup has."""
    figures = {}
    for row in subgroups.itertuples(index=False):
        for name in SUBGROUP_FIGURES:
            value = getattr(row, name)
            if value is not None and not pd.isna(value):
                figures[f"subgroup.{row.group}.{row.value}.{name}"] = value
    return figures


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
