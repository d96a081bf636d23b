"""evaluate@cifar10: the test split, read here for the first time (its images, or a frozen
backbone's features of them); accuracy, macro F1, per-class recall, the confusion matrix and a
gallery of the most confident mistakes. Whether predictions are averaged over each image and
its mirror is decided first, on the validation split."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from pipeline.core.context import Metrics, StageContext, StageResult
from pipeline.core.runner import main
from pipeline.datasets.cifar10 import CLASSES
from pipeline.experiments.cifar10.data import model_inputs
from pipeline.experiments.cifar10.params import EXPERIMENT
from pipeline.ml import plots
from pipeline.ml.evaluation import evaluate_classifier
from pipeline.ml.predict import load_trained_model, predict_probabilities
from pipeline.ml.split_files import load_split

Predict = Callable[[keras.Model, np.ndarray], np.ndarray]


def evaluate(ctx: StageContext) -> StageResult:
    model = load_trained_model(ctx.paths.model)
    predict, choice = prediction_rule(ctx, model)
    x_test, y_test = model_inputs(ctx, "test")
    probabilities = predict(model, x_test)
    result = evaluate_classifier(ctx, probabilities, y_test, CLASSES)
    result.metrics["flip_averaged"] = predict is predict_flip_averaged
    result.details.update(choice)
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


def predict_flip_averaged(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Class probabilities averaged over each image (N, H, W, C) and its left-right mirror:
    the usual test-time augmentation of a network trained with horizontal flips."""
    return (predict_probabilities(model, images)
            + predict_probabilities(model, images[:, :, ::-1])) / 2


def prediction_rule(ctx: StageContext, model: keras.Model) -> tuple[Predict, Metrics]:
    """Single-view predictions, or flip-averaged ones where ``evaluate.flip_averaging`` allows
    them and they are more accurate on the validation split; with both accuracies."""
    if not ctx.params.evaluate.flip_averaging:
        return predict_probabilities, {}
    x, y = model_inputs(ctx, "validation")
    accuracies = {rule: float(np.mean(rule(model, x).argmax(axis=1) == y))
                  for rule in (predict_probabilities, predict_flip_averaged)}
    chosen = max(accuracies, key=lambda rule: (accuracies[rule], rule is predict_probabilities))
    return chosen, {"validation_accuracy_single_view": accuracies[predict_probabilities],
                    "validation_accuracy_flip_averaged": accuracies[predict_flip_averaged]}


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
