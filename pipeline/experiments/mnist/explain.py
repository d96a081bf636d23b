"""explain@mnist: Grad-CAM of each test digit's own predicted (and, for errors, true) class,
from the logit, at the last conv block."""

from __future__ import annotations

import keras
import numpy as np

from pipeline.core.context import Metrics, StageContext
from pipeline.core.runner import main
from pipeline.experiments.mnist.params import EXPERIMENT
from pipeline.ml import attribution, plots
from pipeline.ml.predict import load_trained_model, predict_probabilities
from pipeline.ml.split_files import load_split


def explain(ctx: StageContext) -> Metrics:
    count = ctx.params.explain.images_per_gallery
    x_test, y_test = load_split(ctx.paths.processed, "test")
    model = load_trained_model(ctx.paths.model)
    predicted = predict_probabilities(model, x_test).argmax(axis=1)
    layer = last_block_output(model)
    correct = np.flatnonzero(predicted == y_test)[:count]
    wrong = np.flatnonzero(predicted != y_test)[:count]
    galleries = {
        "correct_predicted_class": (correct, predicted),
        "wrong_predicted_class": (wrong, predicted),
        "wrong_true_class": (wrong, y_test),
    }
    metrics: Metrics = {}
    for name, (chosen, classes) in galleries.items():
        maps = attribution.grad_cam(model, x_test[chosen], classes[chosen], layer)
        plots.image_gallery(
            ctx.out / f"gradcam_{name}.png",
            x_test[chosen],
            [f"#{i} true {y_test[i]} pred {predicted[i]}" for i in chosen],
            overlays=maps,
            suptitle=f"Grad-CAM of the {name.split('_', 1)[1].replace('_', ' ')} logit",
        )
        metrics[f"{name}_mass_on_ink"] = mass_on_ink(maps, x_test[chosen])
    return metrics


def last_block_output(model: keras.Model) -> str:
    """The name of the last conv block's output, where Grad-CAM looks."""
    return [layer.name for layer in model.layers if layer.name.endswith("_out")][-1]


def mass_on_ink(maps: np.ndarray, images: np.ndarray, threshold: float = 0.2) -> float | None:
    """Share of the Grad-CAM mass that falls on the digit's pixels (a sanity figure)."""
    if not len(maps):
        return None
    ink = np.squeeze(images, axis=-1) > threshold
    return float((maps * ink).sum() / max(maps.sum(), 1e-12))


if __name__ == "__main__":
    main(EXPERIMENT, "explain", explain)
