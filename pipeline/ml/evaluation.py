"""Classification metrics, the files DVC and people read them from, and the evaluate stage of a
classifier: the test split, read here for the first time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from pipeline.core.context import StageContext, StageResult
from pipeline.ml import plots
from pipeline.ml.predict import predict_probabilities

HEADLINE = ("accuracy", "macro_f1", "roc_auc")


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    positive_scores: np.ndarray | None = None,
) -> StageResult:
    """Accuracy and macro F1 (headline), balanced accuracy and per-class precision/recall
    (details); with ``positive_scores`` (binary tasks: the score of class 1) also ROC-AUC
    (headline) and average precision.
    """
    labels = list(range(len(class_names)))
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    result: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(np.mean(f1)),
        "samples": len(y_true),
    }
    for index, name in enumerate(class_names):
        result[f"precision_{name}"] = float(precision[index])
        result[f"recall_{name}"] = float(recall[index])
    if positive_scores is not None:
        result["roc_auc"] = float(skm.roc_auc_score(y_true, positive_scores))
        result["average_precision"] = float(skm.average_precision_score(y_true, positive_scores))
    return split_headline(result)


def split_headline(values: dict[str, Any]) -> StageResult:
    """The :data:`HEADLINE` figures as metrics, everything else as details."""
    return StageResult({k: v for k, v in values.items() if k in HEADLINE},
                       {k: v for k, v in values.items() if k not in HEADLINE})


def write_predictions(
    path: Path, y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> None:
    """``actual,predicted`` per sample: the input of DVC's confusion-matrix plot."""
    names = np.asarray(class_names)
    pd.DataFrame({"actual": names[y_true], "predicted": names[y_pred]}).to_csv(path, index=False)


def write_confusion_matrix(
    out: Path, y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> np.ndarray:
    """The confusion matrix as CSV and PNG in ``out``; returns it."""
    matrix = skm.confusion_matrix(y_true, y_pred, labels=list(range(len(class_names))))
    pd.DataFrame(matrix, index=class_names, columns=class_names).to_csv(
        out / "confusion_matrix.csv", index_label="actual"
    )
    plots.confusion_matrix(matrix, class_names, out / "confusion_matrix.png")
    return matrix


def write_binary_curves(out: Path, y_true: np.ndarray, positive_scores: np.ndarray) -> None:
    """ROC and precision-recall curves as CSV (DVC plots) and PNG."""
    fpr, tpr, _ = skm.roc_curve(y_true, positive_scores)
    precision, recall, _ = skm.precision_recall_curve(y_true, positive_scores)
    pd.DataFrame({"fpr": fpr, "tpr": tpr}).to_csv(out / "roc.csv", index=False)
    pd.DataFrame({"recall": recall, "precision": precision}).to_csv(out / "pr.csv", index=False)
    plots.curves(
        out / "roc_pr.png",
        [
            ("ROC", fpr, tpr, "false positive rate", "true positive rate"),
            ("Precision-recall", recall, precision, "recall", "precision"),
        ],
    )


def evaluate_classifier(
    ctx: StageContext, probabilities: np.ndarray, y_test: np.ndarray, class_names: Sequence[str]
) -> StageResult:
    """The evaluate stage's files for a classifier's test probabilities: the metrics, the
    predictions DVC draws as a confusion matrix, the confusion matrix and, for two classes,
    the ROC and precision-recall curves."""
    y_pred = probabilities.argmax(axis=1)
    positive = probabilities[:, 1] if len(class_names) == 2 else None
    write_predictions(ctx.plots / "predictions.csv", y_test, y_pred, class_names)
    write_confusion_matrix(ctx.out, y_test, y_pred, class_names)
    if positive is not None:
        write_binary_curves(ctx.out, y_test, positive)
    return classification_metrics(y_test, y_pred, class_names, positive)


def evaluate_model(ctx: StageContext, model: Any, x_test: np.ndarray, y_test: np.ndarray,
                   class_names: Sequence[str]) -> tuple[StageResult, np.ndarray]:
    """:func:`evaluate_classifier` on a logits model's predictions; also returns them."""
    probabilities = predict_probabilities(model, x_test)
    return evaluate_classifier(ctx, probabilities, y_test, class_names), probabilities
