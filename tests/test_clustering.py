"""The autoencoder + K-means clustering: the scores on hand-made labelings, the baselines on
data with an obvious two-cluster structure, fitted clusters applied to new points, bad params
named, and the stages end to end on synthetic CIFAR-10 and Fruits-360."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dvc_project import write_params

from pipeline.cli import run_stage
from pipeline.core.errors import ParamsError
from pipeline.core.params import load_experiment_params
from pipeline.core.paths import ExperimentPaths
from pipeline.experiments.clustering.clusters import (
    METHODS,
    Clusterings,
    FittedKMeans,
    clustering_accuracy,
    scores,
)
from pipeline.experiments.clustering.data import model_input
from pipeline.experiments.clustering.params import EXPERIMENT

RNG = np.random.default_rng(0)
STAGES = ("download", "preprocess", "train", "evaluate", "explain")

# -- scores -------------------------------------------------------------------------------------


def test_a_perfect_clustering_scores_one_whatever_its_cluster_numbers() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    for clusters in (labels, 1 - labels, labels * 5 + 2):
        assert scores(labels, clusters) == {"ari": pytest.approx(1.0), "accuracy": 1.0}


def test_accuracy_takes_the_best_matching_of_clusters_to_classes() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    clusters = np.array([1, 1, 1, 0, 0, 0, 0, 1])  # 3 + 3 right once 1 -> class 0
    assert clustering_accuracy(labels, clusters) == pytest.approx(6 / 8)
    assert clustering_accuracy(labels, np.zeros(8, dtype=int)) == pytest.approx(0.5)


def test_a_random_clustering_is_at_chance_level() -> None:
    labels = RNG.integers(0, 2, 20000)
    found = scores(labels, RNG.integers(0, 2, 20000))
    assert abs(found["ari"]) < 0.01
    assert 0.5 <= found["accuracy"] < 0.52   # the best of two matchings: just above a half


# -- K-means and the baselines ------------------------------------------------------------------


def two_blobs(count: int, dimensions: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(count) % 2
    centres = RNG.normal(size=(2, dimensions)) * 3
    return centres[labels] + RNG.normal(size=(count, dimensions)), labels


def test_every_method_separates_two_obvious_clusters_on_new_points() -> None:
    points, labels = two_blobs(600, 60)  # the first 400 to fit, the rest new
    fitted = Clusterings.fit(points[:400, :2], points[:400], standardise_codes=True,
                             restarts=3, seed=0)
    assigned = fitted.assign(points[400:, :2], points[400:])
    assert set(assigned) == set(METHODS)
    for method in ("pca", "pixels"):
        assert scores(labels[400:], assigned[method])["ari"] > 0.95, method


def test_assigning_is_what_kmeans_predicts_and_survives_saving() -> None:
    points = RNG.normal(size=(300, 2)) * [10, 0.1] + [5, -3]
    fitted = FittedKMeans.fit(points, standardise=True, restarts=2, seed=1)
    np.testing.assert_allclose(fitted.shift, points.mean(axis=0))
    restored = FittedKMeans.from_arrays(fitted.arrays("x"), "x")
    new = RNG.normal(size=(50, 2)) * [10, 0.1] + [5, -3]
    scaled = (new - fitted.shift) / fitted.scale
    nearest = np.linalg.norm(scaled[:, None] - fitted.centres[None], axis=-1).argmin(axis=1)
    np.testing.assert_array_equal(restored.assign(new), nearest)


def test_grayscale_is_the_luma_of_the_rgb_image() -> None:
    images = RNG.integers(0, 256, size=(3, 4, 4, 3), dtype=np.uint8)
    gray = model_input(images, "grayscale")
    assert gray.shape == (3, 4, 4, 1) and model_input(images, "rgb").max() <= 1.0
    np.testing.assert_allclose(gray[..., 0], images @ [0.299, 0.587, 0.114] / 255, atol=1e-5)


# -- params -------------------------------------------------------------------------------------


def test_a_task_that_is_not_a_pair_is_named(tmp_path: Path) -> None:
    params = write_params(tmp_path, {"clustering.tasks": ["ship_frog", "shipfrog"]})
    with pytest.raises(ParamsError, match=r"clustering: .*\['shipfrog'\] are not pairs"):
        load_experiment_params(params, "clustering", EXPERIMENT.params)


def test_the_report_preset_is_the_small_keras_autoencoder(tmp_path: Path) -> None:
    params = write_params(tmp_path, {"clustering.preset": "report"})
    train = load_experiment_params(params, "clustering", EXPERIMENT.params).train
    assert train.autoencoder.filters == [16, 8] and not train.autoencoder.batch_norm
    assert not train.standardise_codes


# -- end to end ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_stages_end_to_end(tmp_path: Path, tracking_uri: str) -> None:
    params = write_params(tmp_path, {
        "data.synthetic": True,
        "clustering.tasks": ["ship_frog", "banana_blueberry"],
        "clustering.download.fruits360_synthetic_per_class": 12,
        "clustering.train.repetitions": 2,
        "clustering.train.epochs": 2,
        "clustering.train.batch_size": 32,
        "clustering.explain.points": 12,
    })
    metrics = {stage: run_stage(stage, "clustering", params_file=params, root=tmp_path)
               for stage in STAGES}
    evaluate = metrics["evaluate"]
    assert evaluate["synthetic"] is True
    groups = [f"{task}_{mode}" for task in ("ship_frog", "banana_blueberry")
              for mode in ("rgb", "grayscale")]
    for group in groups:
        for method in METHODS:
            assert -1 <= evaluate[f"{group}_{method}_ari"] <= 1
    paths = ExperimentPaths(tmp_path, "clustering")
    details = json.loads(paths.details_file("evaluate").read_text())
    assert sorted(details) == sorted(groups)
    assert details["ship_frog_rgb"]["classes"] == ["ship", "frog"]
    assert len(details["ship_frog_rgb"]["autoencoder"]["ari_per_seed"]) == 2
    assert "PCA(2)" in details["ship_frog_rgb"]["verdict"]
    assert evaluate["autoencoder_beats_pca_count"] == sum(
        "autoencoder beats" in details[group]["verdict"] for group in groups)
    assert {path.name for path in paths.explain.glob("*.png")} == {
        "ari_summary.png", *(f"codes_{group}.png" for group in groups)}
