"""Colourisation: the scores on hand-made images (PSNR's formula, SSIM's identity, the chroma
error of gray images), the Lab round trip, the two baselines, the networks' shapes and
scaling, and the stages end to end on synthetic data, with the test split out of reach of
every stage before evaluate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
from dvc_project import write_params

from pipeline.cli import run_stage
from pipeline.core.errors import ParamsError
from pipeline.core.paths import ExperimentPaths
from pipeline.datasets import cifar10
from pipeline.experiments.colourise.baselines import gray_copy, mean_chroma, mean_colour
from pipeline.experiments.colourise.colour import rgb_floats, to_lab, to_rgb, with_chroma
from pipeline.experiments.colourise.model import build, colourise, fit_arrays
from pipeline.experiments.colourise.scores import (
    chroma_distance,
    psnr,
    score_images,
    summary,
)
from pipeline.ml.split_files import load_split

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)


# -- scores on hand-made images -----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:divide by zero")  # PSNR of identical images
def test_identical_images_score_infinite_psnr_ssim_one_and_no_chroma_error() -> None:
    true = rgb_floats(IMAGES)
    scores = score_images(true, to_lab(IMAGES), true.copy(), window=7)
    assert np.all(np.isinf(scores["psnr"])) and psnr(true, true) == np.inf
    np.testing.assert_allclose(scores["ssim"], 1.0)
    np.testing.assert_allclose(scores["chroma_error"], 0.0, atol=1e-4)


def test_a_known_mean_squared_error_gives_the_known_psnr() -> None:
    true = np.full((2, 8, 8, 3), 0.5, dtype="float32")
    predicted = true + np.array([0.1, 0.2], dtype="float32")[:, None, None, None]
    assert psnr(true[0], predicted[0]) == pytest.approx(20.0, abs=1e-4)   # MSE 0.01
    assert psnr(true[1], predicted[1]) == pytest.approx(10 * np.log10(1 / 0.04), abs=1e-4)
    scores = score_images(true, to_lab(true), predicted, window=7)
    # the set's PSNR is that of the pooled MSE (0.025), not the mean of the images' PSNR
    assert summary(scores)["psnr"] == pytest.approx(10 * np.log10(1 / 0.025), abs=1e-4)


@pytest.mark.filterwarnings("ignore:divide by zero")  # PSNR of identical images
def test_a_gray_image_has_no_chroma_and_no_chroma_error_against_its_gray_self() -> None:
    levels = RNG.uniform(size=(3, 16, 16, 1)).astype("float32")
    gray = np.repeat(levels, 3, axis=-1)
    lab = to_lab(gray)
    assert np.abs(lab[..., 1:]).max() < 0.01           # R = G = B: a* = b* = 0
    scores = score_images(gray, lab, gray.copy(), window=7)
    np.testing.assert_array_equal(scores["chroma_error"], 0.0)


def test_the_chroma_error_is_the_euclidean_distance_in_the_ab_plane() -> None:
    true = np.zeros((1, 2, 2, 3))
    predicted = true.copy()
    predicted[..., 0] = 30              # lightness is not chroma
    predicted[0, 0, 0, 1:] = (3, 4)
    np.testing.assert_allclose(chroma_distance(true, predicted), [[[5, 0], [0, 0]]])


def test_lab_round_trip() -> None:
    np.testing.assert_allclose(to_rgb(to_lab(IMAGES)), rgb_floats(IMAGES), atol=1e-4)
    lab = to_lab(IMAGES)
    assert lab[..., 0].min() >= 0 and lab[..., 0].max() <= 100


# -- baselines ----------------------------------------------------------------------------------


def test_the_gray_copy_keeps_the_lightness_and_drops_the_chroma() -> None:
    lab = to_lab(IMAGES)
    copied = to_lab(gray_copy(lab))
    np.testing.assert_allclose(copied[..., 0], lab[..., 0], atol=0.01)
    assert np.abs(copied[..., 1:]).max() < 0.01
    np.testing.assert_allclose(  # so its chroma error is the image's own chroma
        score_images(rgb_floats(IMAGES), lab, gray_copy(lab), 7)["chroma_error"],
        np.linalg.norm(lab[..., 1:], axis=-1).mean(axis=(1, 2)), atol=0.01)


def test_the_mean_colour_is_the_training_images_mean_chroma_at_each_position() -> None:
    train = np.zeros((2, 4, 4, 3), dtype="float32")
    train[..., 0] = 60
    train[0, ..., 1:], train[1, ..., 1:] = (10, -20), (30, 0)
    train[:, 0, 0, 1:] = (-6, 8)
    chroma = mean_chroma(train)
    assert chroma.shape == (1, 4, 4, 2)
    np.testing.assert_allclose(chroma[0, 1:, 1:], np.broadcast_to([20, -10], (3, 3, 2)))
    np.testing.assert_allclose(chroma[0, 0, 0], [-6, 8])
    test = np.zeros((3, 4, 4, 3), dtype="float32")
    test[..., 0] = [[[40]], [[55]], [[70]]]
    result = to_lab(mean_colour(test, chroma))
    np.testing.assert_allclose(result[..., 0], test[..., 0], atol=0.05)    # its own L*
    np.testing.assert_allclose(result[..., 1:], np.broadcast_to(chroma, (3, 4, 4, 2)),
                               atol=0.05)


# -- the networks -------------------------------------------------------------------------------


@pytest.mark.parametrize(("architecture", "space", "channels"), [
    ("unet", {"filters": 4, "depth": 3, "learning_rate": 0.001}, 2),
    ("encoder_decoder", {"learning_rate": 0.001}, 3),
])
@pytest.mark.parametrize("side", [32, 100], ids=["cifar10", "fruits360"])
def test_the_networks_colour_images_of_any_side(architecture: str, space: dict, channels: int,
                                                side: int) -> None:
    model = build(kt.HyperParameters(), space, architecture, (side, side, 1))
    output = model.predict(np.zeros((2, side, side, 1), "float32"), verbose=0)
    assert output.shape == (2, side, side, channels)
    assert np.abs(output).max() <= 1


class Oracle:
    """A 'model' that answers with the true targets: what a perfect network would output."""

    def __init__(self, targets: np.ndarray) -> None:
        self.targets = targets

    def predict(self, inputs: np.ndarray, **_: object) -> np.ndarray:
        assert inputs.shape == (*self.targets.shape[:3], 1)
        return self.targets


@pytest.mark.parametrize("architecture", ["unet", "encoder_decoder"])
def test_a_perfect_output_colourises_back_to_the_true_image(architecture: str) -> None:
    inputs, targets = fit_arrays(IMAGES, architecture)
    assert inputs.min() >= 0 and inputs.max() <= 1 and np.abs(targets).max() <= 1
    lab = to_lab(IMAGES)
    np.testing.assert_allclose(colourise(Oracle(targets), lab, architecture, 4),
                               rgb_floats(IMAGES), atol=1e-4)
    np.testing.assert_allclose(with_chroma(lab, lab[..., 1:]), rgb_floats(IMAGES), atol=1e-4)


def test_an_even_ssim_window_is_refused_by_name(tmp_path: Path) -> None:
    params = write_params(tmp_path, {"colourise.evaluate.ssim_window": 6})
    with pytest.raises(ParamsError, match=r"colourise\.evaluate\.ssim_window"):
        run_stage("download", "colourise", params_file=params, root=tmp_path)


# -- the sources and the splits -----------------------------------------------------------------


def test_fruits360_stand_ins_are_split_like_cifar10(tmp_path: Path, tracking_uri: str) -> None:
    params = write_params(tmp_path, {
        "data.synthetic": True, "colourise.download.source": "fruits360",
        "colourise.download.fruits360_classes": ["Banana", "Kiwi"],
        "colourise.download.synthetic_per_class": 20, "colourise.preprocess.train_images": 30})
    assert run_stage("download", "colourise", params_file=params, root=tmp_path) == {
        "training_images": 40, "test_images": 40, "synthetic": True}
    split = run_stage("preprocess", "colourise", params_file=params, root=tmp_path)
    assert split == {"train_images": 30, "validation_images": 4, "synthetic": True}
    processed = ExperimentPaths(tmp_path, "colourise").processed
    images, labels = load_split(processed, "train")
    assert images.shape == (30, 100, 100, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [15, 15]
    validation, _ = load_split(processed, "validation")
    assert not {image.tobytes() for image in validation} & {image.tobytes() for image in images}


# -- end to end ---------------------------------------------------------------------------------

TINY = {
    "data.synthetic": True,
    "colourise.tune.max_trials": 2,
    "colourise.tune.epochs": 2,
    "colourise.tune.batch_size": 32,
    "colourise.tune.search_space": {"filters": 8, "depth": {"values": [1, 2]},
                                    "learning_rate": 0.003},
    "colourise.train.epochs": 3,
    "colourise.train.batch_size": 32,
    "colourise.evaluate.examples": 3,
}


@pytest.mark.slow
def test_stages_end_to_end_with_the_test_split_out_of_reach(tmp_path: Path,
                                                            tracking_uri: str) -> None:
    """All six stages; preprocess, tune and train run with the test images moved away, so
    they cannot have read them. Then the report preset's network on the same data."""
    params = write_params(tmp_path, TINY)
    paths = ExperimentPaths(tmp_path, "colourise")
    ran = {"download": run_stage("download", "colourise", params_file=params, root=tmp_path)}
    aside = tmp_path / "aside"
    aside.mkdir()
    test_files = sorted(paths.raw.glob("test_*"))
    assert test_files
    for path in test_files:
        shutil.move(path, aside / path.name)
    for stage in ("preprocess", "tune", "train"):
        ran[stage] = run_stage(stage, "colourise", params_file=params, root=tmp_path)
    for path in test_files:
        shutil.move(aside / path.name, path)
    for stage in ("evaluate", "explain"):
        ran[stage] = run_stage(stage, "colourise", params_file=params, root=tmp_path)

    evaluate = ran["evaluate"]
    assert evaluate["synthetic"] is True
    for method in ("", "baseline_gray_copy_", "baseline_mean_colour_"):
        assert 0 < evaluate[f"{method}ssim"] < 1 and np.isfinite(evaluate[f"{method}psnr"])
    # (whether the model beats the baselines is measured on real data: the stand-ins are too
    # few and too noisy for a network to learn their colours in seconds)
    lab = to_lab(cifar10.read(paths.raw, "test").images)
    assert evaluate["baseline_gray_copy_chroma_error"] == pytest.approx(  # their own chroma
        np.linalg.norm(lab[..., 1:], axis=-1).mean(), abs=0.01)
    table = pd.read_csv(paths.evaluate / "per_image.csv")
    assert len(table) == ran["download"]["test_images"]
    assert table["model_chroma_error"].mean() == pytest.approx(evaluate["chroma_error"])
    details = json.loads(paths.details_file("evaluate").read_text())
    assert len(details["chroma_error_per_class"]) == len(details["classes"]) == 10
    assert {p.name for p in paths.explain.glob("*.png")} == {
        "examples_best.png", "examples_worst.png", "examples_random.png",
        "chroma_error_per_class.png", "chroma_error_spread.png"}
    assert all(0 <= ran["explain"][f"images_better_than_{method}"] <= 1
               for method in ("gray_copy", "mean_colour"))

    report = write_params(tmp_path, {**TINY, "colourise.preset": "report"})
    for stage in ("tune", "train", "evaluate"):
        ran[stage] = run_stage(stage, "colourise", params_file=report, root=tmp_path)
    assert ran["tune"]["trials"] == 0          # the report's network: nothing to search
    assert np.isfinite(ran["evaluate"]["chroma_error"])
