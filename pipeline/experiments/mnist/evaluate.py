"""evaluate@mnist: the test split, read here for the first time; metrics, confusion matrix
and a gallery of the misclassified digits."""

from __future__ import annotations

import numpy as np

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.mnist.data import CLASSES
from pipeline.experiments.mnist.params import EXPERIMENT
from pipeline.ml import plots
from pipeline.ml.evaluation import evaluate_model
from pipeline.ml.predict import load_trained_model
from pipeline.ml.split_files import load_split


def evaluate(ctx: StageContext) -> StageResult:
    x_test, y_test = load_split(ctx.paths.processed, "test")
    result, probabilities = evaluate_model(ctx, load_trained_model(ctx.paths.model), x_test,
                                           y_test, CLASSES)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_test)[: ctx.params.evaluate.gallery_size]
    plots.image_gallery(
        ctx.out / "misclassified.png",
        x_test[wrong],
        [f"#{i}: {y_test[i]}→{predicted[i]} ({probabilities[i, predicted[i]]:.2f})"
         for i in wrong],
        suptitle=f"Misclassified test digits (true→predicted, p): {len(wrong)} shown",
    )
    return result


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
