"""explain@ecg5000: what of each beat the predicted class's logit comes from, for typical and
misclassified test beats of each class, and the class-mean beats with the mean attribution
profile of each class. ROCKET: Shapley values of time segments (its proportion-of-positive-
values feature is a step function, which gradients cannot see). The recurrent networks:
integrated gradients over the 140 samples (Grad-CAM needs a convolutional feature map the
prediction depends on alone, which a recurrent model does not have)."""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.ecg5000.figures import plot_beats, plot_class_means
from pipeline.experiments.ecg5000.labels import check_processed, class_names, task_labelled
from pipeline.experiments.ecg5000.loading import load_task_model
from pipeline.experiments.ecg5000.params import EXPERIMENT, ExplainParams
from pipeline.experiments.ecg5000.rocket import is_random_kernel_model
from pipeline.ml import attribution
from pipeline.ml.predict import predict_probabilities
from pipeline.ml.shapley import segment_shapley
from pipeline.ml.split_files import load_split


def explain(ctx: StageContext) -> StageResult:
    e, p = ctx.params.explain, ctx.params.preprocess
    names = class_names(p)
    check_processed(ctx.paths.processed, p)
    x_test, y_test = load_split(ctx.paths.processed, "test")
    x_train, y_train = task_labelled(ctx.paths.processed, ["train"], p)
    model = load_task_model(ctx.paths.model, p)
    probabilities = predict_probabilities(model, x_test)
    predicted = probabilities.argmax(axis=1)
    rng = ctx.rng("explain")
    groups: dict[str, np.ndarray] = {}
    profile_beats: dict[int, np.ndarray] = {}
    for label, name in enumerate(names):
        correct = np.flatnonzero((y_test == label) & (predicted == label))
        wrong = np.flatnonzero((y_test == label) & (predicted != label))
        wrong = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")]
        groups[f"typical_{name}"] = random_subset(correct, e.beats_per_group, rng)
        groups[f"misclassified_{name}"] = wrong[: e.beats_per_group]
        profile_beats[label] = random_subset(correct, e.beats_for_class_profile, rng)
    # one batched attribution run over every beat explained (many small calls would cost
    # far more)
    explained = np.unique(np.concatenate([*groups.values(), *profile_beats.values()]))
    started = time.perf_counter()
    maps, method = attributions(model, x_test[explained], predicted[explained], e,
                                ctx.rng("attribution"))
    seconds = time.perf_counter() - started
    row_of = {int(index): row for row, index in enumerate(explained)}
    errors = completeness_errors(model, x_test[explained], predicted[explained], maps)
    profiles = {
        label: np.abs(maps[[row_of[int(i)] for i in indices]]).mean(axis=0).ravel()
        for label, indices in profile_beats.items() if len(indices)
    }
    for group, indices in groups.items():
        plot_beats(
            ctx.out / f"attributions_{group}.png",
            x_test[indices],
            [f"#{i} true {names[y_test[i]]}, pred {names[predicted[i]]} "
             f"({probabilities[i, predicted[i]]:.2f})" for i in indices],
            attributions=maps[[row_of[int(i)] for i in indices]],
            suptitle=f"{method} of the predicted class: {group.replace('_', ' ')}",
        )
    # npz, not csv: this folder is a DVC plots folder, which would draw a csv
    np.savez_compressed(
        ctx.out / "attributions.npz", test_index=explained, true_class=y_test[explained],
        predicted_class=predicted[explained], attributions=maps[..., 0],
    )
    plot_class_means(ctx.out / "class_means.png", x_train, y_train, names, profiles, method)
    return StageResult(
        # sum of the attributions vs the logit difference to the baseline: a check
        {"completeness_error_median": float(np.median(errors)) if errors else None},
        {"beats_explained": len(explained), "attribution": method,
         **{f"{group}_beats": len(indices) for group, indices in groups.items()}},
        {"attribution_seconds": round(seconds, 1)},
    )


def attributions(model: keras.Model, x: np.ndarray, classes: np.ndarray, e: ExplainParams,
                 rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The attributions of ``x`` and their name: Shapley values of time segments for ROCKET
    (exact for any model), integrated gradients for the recurrent networks (differentiable,
    so they get one value per sample rather than per segment)."""
    shapley = is_random_kernel_model(model)
    method = (f"Shapley values of {e.shapley_segment}-sample segments" if shapley
              else f"Integrated gradients ({e.integrated_gradients_steps} steps)")
    if not len(x):
        return np.zeros_like(x), method
    if shapley:
        return segment_shapley(
            model, x, classes, segment=e.shapley_segment, permutations=e.shapley_permutations,
            rng=rng), method
    return attribution.integrated_gradients(
        compiled_forward(model), x, classes, steps=e.integrated_gradients_steps), method


def compiled_forward(model: keras.Model) -> Any:
    """The model's forward pass as one traced graph on TensorFlow: called eagerly (as the
    gradient helpers do), a recurrent layer steps through time in Python, about ten times
    slower here. Other backends get the model as it is."""
    if keras.backend.backend() != "tensorflow":
        return model
    import tensorflow as tf

    return tf.function(model)


def random_subset(indices: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``count`` of ``indices``, drawn without replacement, in ascending order."""
    return np.sort(rng.choice(indices, min(count, len(indices)), replace=False))


def completeness_errors(
    model: keras.Model, x: np.ndarray, classes: np.ndarray, maps: np.ndarray
) -> list[float]:
    """|sum(attributions) - (logit(x) - logit(0))| / |logit(x) - logit(0)| per beat: the
    attributions should account for the whole difference (Shapley values exactly; integrated
    gradients less so with fewer steps, and not at all for a step function)."""
    if not len(x):
        return []
    rows = np.arange(len(x))
    difference = (model.predict(x, verbose=0)[rows, classes]
                  - model.predict(np.zeros_like(x), verbose=0)[rows, classes])
    totals = maps.reshape(len(x), -1).sum(axis=1)
    return list(np.abs(totals - difference) / np.maximum(np.abs(difference), 1e-6))


if __name__ == "__main__":
    main(EXPERIMENT, "explain", explain)
