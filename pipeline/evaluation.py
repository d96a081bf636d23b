"""Classification metrics and the files DVC and people read them from."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from pipeline import plots


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    positive_scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro F1 and per-class precision/recall; with
    ``positive_scores`` (binary tasks: the score of class 1) also ROC-AUC and average precision.
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
    return result


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
