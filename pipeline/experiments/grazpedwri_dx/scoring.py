"""Scoring the trained model: fracture probabilities of a manifest's images, the decision
threshold chosen on the validation split, sensitivity and specificity, the per-subgroup
table, and the scored test split that evaluate and explain share."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import keras
import numpy as np
import pandas as pd
from sklearn import metrics as skm

from pipeline.core.context import StageContext
from pipeline.core.errors import DataError
from pipeline.experiments.grazpedwri_dx.images import image_dataset
from pipeline.experiments.grazpedwri_dx.layout import PROJECTIONS, prepared_size, read_split
from pipeline.ml.predict import load_trained_model, predict_probabilities


def model_scores(model: keras.Model, frame: pd.DataFrame, size: int) -> np.ndarray:
    """Fracture probabilities for the images of a manifest, streamed from disk."""
    data = image_dataset(frame["file"], image_size=size, batch_size=64)
    return predict_probabilities(model, data)[:, 1]


def choose_threshold(labels: np.ndarray, scores: np.ndarray, min_sensitivity: float | None
                     ) -> float:
    """The decision threshold on fracture probability, chosen on validation predictions."""
    if len(np.unique(labels)) < 2:
        raise DataError("the validation split needs both classes to choose a threshold")
    fpr, tpr, thresholds = skm.roc_curve(labels, scores)
    if min_sensitivity is None:
        index = int(np.argmax(tpr - fpr))
    else:
        index = int(np.argmax(tpr >= min_sensitivity))
    return float(min(thresholds[index], 1.0))


def binary_rates(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    positives, negatives = labels == 1, labels == 0
    return {
        "sensitivity": float(predicted[positives].mean()) if positives.any() else None,
        "specificity": float(1 - predicted[negatives].mean()) if negatives.any() else None,
    }


def subgroup_table(frame: pd.DataFrame, age_bands: Sequence[float]) -> pd.DataFrame:
    """ROC-AUC, sensitivity and specificity per age band, projection and cast."""
    edges = list(age_bands)
    bands = [f"{low:g}-{high:g}" for low, high in itertools.pairwise(edges)]
    groups = {
        "age_band": pd.cut(frame["age"], bins=edges, right=False, labels=bands)
        .astype(str).replace("nan", "outside"),
        "projection": frame["projection"].map(PROJECTIONS).fillna("unknown"),
        "cast": frame["cast"].map({0: "no", 1: "yes"}),
    }
    rows = []
    for group, values in groups.items():
        for value in sorted(values.unique()):
            part = frame[values == value]
            labels, scores = part["label"].to_numpy(), part["score"].to_numpy()
            rows.append({
                "group": group, "value": value, "images": len(part),
                "positives": int(labels.sum()),
                "roc_auc": (float(skm.roc_auc_score(labels, scores))
                            if len(np.unique(labels)) == 2 else None),
                **binary_rates(labels, part["predicted"].to_numpy()),
            })
    return pd.DataFrame(rows)


def scored_test(ctx: StageContext) -> tuple[keras.Model, pd.DataFrame, float]:
    """The model, the test manifest with ``score`` and ``predicted`` columns, and the
    threshold (chosen on the validation split, by ``evaluate.min_sensitivity``)."""
    size = prepared_size(ctx.paths.processed)
    model = load_trained_model(ctx.paths.model, compile=False)
    validation = read_split(ctx.paths.processed, "validation")
    threshold = choose_threshold(validation["label"].to_numpy(),
                                 model_scores(model, validation, size),
                                 ctx.params.evaluate.min_sensitivity)
    test = read_split(ctx.paths.processed, "test")
    if test.empty:
        raise DataError(f"{ctx.paths.processed / 'test.csv'} holds no images")
    test["score"] = model_scores(model, test, size)
    test["predicted"] = (test["score"] >= threshold).astype(np.int64)
    return model, test, threshold
