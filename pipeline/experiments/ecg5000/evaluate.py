"""evaluate@ecg5000: the test split, read here for the first time; the task's metrics,
confusion matrix (and ROC and precision-recall curves for the binary task), the most confident
errors, and two baselines fitted on the same training beats: logistic regression and 1-NN."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from pipeline.core.context import Metrics, StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.ecg5000.figures import plot_beats
from pipeline.experiments.ecg5000.labels import check_processed, class_names, task_labelled
from pipeline.experiments.ecg5000.layout import SAMPLES
from pipeline.experiments.ecg5000.loading import load_task_model
from pipeline.experiments.ecg5000.params import EXPERIMENT
from pipeline.ml.evaluation import evaluate_model
from pipeline.ml.split_files import load_split

BASELINES_FILE = "baselines.csv"


def evaluate(ctx: StageContext) -> StageResult:
    p = ctx.params.preprocess
    names = class_names(p)
    check_processed(ctx.paths.processed, p)
    x_test, y_test = load_split(ctx.paths.processed, "test")
    result, probabilities = evaluate_model(ctx, load_task_model(ctx.paths.model, p), x_test,
                                           y_test, names)
    write_error_gallery(ctx, x_test, y_test, probabilities, names)
    if not ctx.params.evaluate.baselines:
        return result
    headline, details = baselines(ctx, x_test, y_test, names)
    return StageResult({**result.metrics, **headline}, {**result.details, **details})


def baselines(ctx: StageContext, x_test: np.ndarray, y_test: np.ndarray,
              names: Sequence[str]) -> tuple[Metrics, Metrics]:
    """Logistic regression and 1-NN (Euclidean) on the samples, fitted on train +
    validation (all the labelled training beats), scored on the same test set. Returns
    (headline: each one's accuracy, details: its other figures)."""
    x_fit, y_fit = task_labelled(ctx.paths.processed, ["train", "validation"],
                                 ctx.params.preprocess)
    x_fit, x_test = x_fit.reshape(-1, SAMPLES), x_test.reshape(-1, SAMPLES)
    models = {
        "logreg": LogisticRegression(max_iter=5000),
        "1nn": KNeighborsClassifier(n_neighbors=1),
    }
    rows, headline, details = [], {}, {}
    for label, model in models.items():
        model.fit(x_fit, y_fit)
        predicted = model.predict(x_test)
        row = {
            "model": label,
            "accuracy": float(skm.accuracy_score(y_test, predicted)),
            "balanced_accuracy": float(skm.balanced_accuracy_score(y_test, predicted)),
            "macro_f1": float(skm.f1_score(y_test, predicted, average="macro")),
        }
        if len(names) == 2 and label == "logreg":
            row["roc_auc"] = float(skm.roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
        rows.append(row)
        headline[f"baseline_{label}_accuracy"] = row["accuracy"]
        details.update({f"baseline_{label}_{key}": value for key, value in row.items()
                        if key not in ("model", "accuracy")})
    pd.DataFrame(rows).to_csv(ctx.out / BASELINES_FILE, index=False)
    return headline, details


def write_error_gallery(ctx: StageContext, x: np.ndarray, y: np.ndarray,
                        probabilities: np.ndarray, names: Sequence[str]) -> None:
    """The most confident test errors, up to ``evaluate.gallery_size``."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y)
    wrong = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")]
    wrong = wrong[: ctx.params.evaluate.gallery_size]
    plot_beats(
        ctx.out / "misclassified.png",
        x[wrong],
        [f"#{i}: {names[y[i]]}→{names[predicted[i]]} "
         f"(p={probabilities[i, predicted[i]]:.2f})" for i in wrong],
        suptitle=f"The {len(wrong)} most confident test errors (true→predicted)",
    )


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
