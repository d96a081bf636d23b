"""evaluate@cifar10: the test split, read here for the first time (its images, or a frozen
backbone's features of them); accuracy, macro F1, per-class recall, the confusion matrix and a
gallery of the most confident mistakes."""

from __future__ import annotations

import numpy as np

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.datasets.cifar10 import CLASSES
from pipeline.experiments.cifar10.data import model_inputs
from pipeline.experiments.cifar10.params import EXPERIMENT
from pipeline.ml import plots
from pipeline.ml.evaluation import evaluate_model
from pipeline.ml.predict import load_trained_model
from pipeline.ml.split_files import load_split


def evaluate(ctx: StageContext) -> StageResult:
    x_test, y_test = model_inputs(ctx, "test")
    result, probabilities = evaluate_model(ctx, load_trained_model(ctx.paths.model), x_test,
                                           y_test, CLASSES)
    images, _ = load_split(ctx.paths.processed, "test")
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(predicted)), predicted]
    wrong = np.flatnonzero(predicted != y_test)
    shown = wrong[np.argsort(-confidence[wrong], kind="stable")][: ctx.params.evaluate.gallery_size]
    plots.image_gallery(
        ctx.out / "confident_mistakes.png",
        images[shown],
        [f"#{i}: {CLASSES[y_test[i]]}→{CLASSES[predicted[i]]} ({confidence[i]:.2f})"
         for i in shown],
        suptitle=f"The {len(shown)} most confident mistakes of {len(wrong)} (true→predicted, p)",
    )
    return result


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
