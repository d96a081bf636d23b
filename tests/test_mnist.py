"""MNIST: the search spaces build everywhere, the data are checked, the splits are clean."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pytest
import yaml
from dvc_project import write_params

from pipeline.cli import run_stage
from pipeline.core.errors import DataError
from pipeline.core.params import load_experiment_params
from pipeline.experiments.mnist.data import holds_official_arrays, read_arrays
from pipeline.experiments.mnist.model import build_cnn
from pipeline.experiments.mnist.params import Params
from pipeline.experiments.mnist.synthetic import render_digits
from pipeline.ml.split_files import load_split

REPO = Path(__file__).resolve().parents[1]
PRESETS = ["default", *yaml.safe_load((REPO / "params.yaml").read_text())["mnist"]["presets"]]


def params_with(tmp_path: Path, **changes) -> Path:
    return write_params(tmp_path, changes)


def corner_hyperparameters(space: dict, corner: str) -> kt.HyperParameters:
    """Every range at its min (or max) and every choice at its first (or last) value,
    including the hyperparameters that only exist at that corner (deeper blocks)."""
    hp = kt.HyperParameters()
    for _ in range(4):  # conditional hyperparameters appear as depth grows
        build_cnn(hp, space, None)
        for item in hp.space:
            if isinstance(item, kt.engine.hyperparameters.Choice):
                hp.values[item.name] = item.values[0 if corner == "low" else -1]
            elif isinstance(item, kt.engine.hyperparameters.Int | kt.engine.hyperparameters.Float):
                hp.values[item.name] = item.min_value if corner == "low" else item.max_value
    return hp


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("corner", ["low", "high"])
def test_every_corner_of_every_search_space_builds(tmp_path, preset, corner) -> None:
    params = load_experiment_params(params_with(tmp_path, **{"mnist.preset": preset}), "mnist",
                                 Params)
    space = params.tune.search_space
    hp = corner_hyperparameters(space, corner)
    model = build_cnn(hp, space, params.train.augmentation)
    logits = model.predict(np.zeros((2, 28, 28, 1), "float32"), verbose=0)
    assert logits.shape == (2, 10)
    if corner == "high" and preset.startswith(("report_a", "report_b", "report_c")):
        # the reports' 5-block spaces: the deepest point now builds instead of failing
        assert hp.values["conv_blocks"] == 5


def test_synthetic_data_has_the_real_layout(tmp_path: Path, tracking_uri) -> None:
    params = params_with(tmp_path, **{"data.synthetic": True})
    run_stage("download", "mnist", params_file=params, root=tmp_path)
    raw = tmp_path / "data" / "raw" / "mnist"
    arrays = read_arrays(raw, synthetic=True)
    assert sorted(arrays) == ["x_test", "x_train", "y_test", "y_train"]
    assert arrays["x_train"].dtype == np.uint8 and arrays["x_train"].shape[1:] == (28, 28)
    assert np.bincount(arrays["y_train"]).tolist() == [120] * 10
    assert arrays["x_train"].max() == 255  # digits are drawn, not blank
    assert (raw / "SYNTHETIC").exists()


def test_rendered_digits_are_reproducible() -> None:
    first, labels = render_digits(20, np.random.default_rng(7))
    second, labels_again = render_digits(20, np.random.default_rng(7))
    assert np.array_equal(first, second) and np.array_equal(labels, labels_again)


def test_corrupt_arrays_fail_preprocess_cleanly(tmp_path, tracking_uri) -> None:
    params = params_with(tmp_path, **{"data.synthetic": True})
    raw = tmp_path / "data" / "raw" / "mnist"
    raw.mkdir(parents=True)
    for name in ("y_train", "x_test", "y_test"):
        np.save(raw / f"{name}.npy", np.zeros(5, "uint8"))
    np.save(raw / "x_train.npy", np.zeros((5, 28, 28), "float32"))
    with pytest.raises(DataError, match=r"x_train has dtype float32, expected uint8"):
        run_stage("preprocess", "mnist", params_file=params, root=tmp_path)
    assert not (tmp_path / "data" / "processed" / "mnist").exists()
    assert not list((tmp_path / "data" / "processed").glob("*.partial"))
    assert not (tmp_path / "metrics" / "mnist" / "preprocess.json").exists()


def test_arrays_are_checked_by_content_whatever_the_container(tmp_path: Path) -> None:
    arrays = {"x_train": np.zeros((3, 28, 28), "uint8"), "y_train": np.zeros(3, "uint8")}
    np.savez(tmp_path / "other.npz", **arrays)
    assert not holds_official_arrays(tmp_path / "other.npz")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    assert not holds_official_arrays(tmp_path / "broken.npz")


@pytest.mark.real_data
def test_mirror_copy_is_accepted_by_content_not_bytes(shared_datasets: Path) -> None:
    assert holds_official_arrays(shared_datasets / "mnist" / "mnist.npz")


@pytest.mark.real_data
def test_real_download_and_preprocess(tmp_path, tracking_uri, shared_datasets,
                                      monkeypatch) -> None:
    params = params_with(tmp_path)
    monkeypatch.setenv("PIPELINE_MIRROR", str(shared_datasets))
    run_stage("download", "mnist", params_file=params, root=tmp_path)
    raw = tmp_path / "data" / "raw" / "mnist"
    # the canonical form: the official arrays as .npy, whatever container the mirror used
    assert sorted(path.name for path in raw.iterdir()) == [
        "x_test.npy", "x_train.npy", "y_test.npy", "y_train.npy"]
    metrics = run_stage("preprocess", "mnist", params_file=params, root=tmp_path)
    assert (metrics["train_images"], metrics["validation_images"], metrics["test_images"]) == (
        54000, 6000, 10000)
    processed = tmp_path / "data" / "processed" / "mnist"
    _, y_val = load_split(processed, "validation")
    x_test, y_test = load_split(processed, "test")
    # stratified: every class keeps its share of the official training set within one image
    official = np.array([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    assert np.all(np.abs(np.bincount(y_val) - official * 0.1) <= 1)
    # the official test set, untouched, scaled once, with a channel axis
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x_test.shape == (10000, 28, 28, 1) and x_test.dtype == np.float32
    assert x_test.min() >= 0.0 and x_test.max() <= 1.0
    shutil.rmtree(tmp_path / "data")
