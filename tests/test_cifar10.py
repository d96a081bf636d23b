"""CIFAR-10: the report's models have the report's parameter counts, CAM and Grad-CAM agree
where both apply, the backbone's weights are fetched and checked, and every stage runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from dvc_project import write_params

from pipeline.cli import run_stage
from pipeline.core.errors import DownloadError, ParamsError
from pipeline.core.params import load_experiment_params
from pipeline.core.paths import STAGES, ExperimentPaths
from pipeline.experiments.cifar10.backbone import BACKBONES, LAST_CONV, full_classifier
from pipeline.experiments.cifar10.cam import cam_applies, class_activation_maps
from pipeline.experiments.cifar10.data import PHOTOS, copy_photos, read_photos
from pipeline.experiments.cifar10.evaluate import predict_flip_averaged
from pipeline.experiments.cifar10.model import CAM_FEATURES, build_classifier
from pipeline.experiments.cifar10.params import Params
from pipeline.experiments.cifar10.weights import fetch_weights
from pipeline.ml import attribution
from pipeline.ml.predict import predict_probabilities
from pipeline.ml.search_space import fixed_hyperparameters

REPO = Path(__file__).resolve().parents[1]
PRESETS = ["default", *yaml.safe_load((REPO / "params.yaml").read_text())["cifar10"]["presets"]]


def preset_params(tmp_path: Path, preset: str, **changes) -> Params:
    path = write_params(tmp_path, {"cifar10.preset": preset, **changes})
    return load_experiment_params(path, "cifar10", Params)


def trainable(model: keras.Model) -> int:
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def space_values(params: Params) -> dict:
    """The first value of every choice and the low end of every range."""
    return {name: spec.values[0] if hasattr(spec, "values") else
            spec.min if hasattr(spec, "min") else spec
            for name, spec in params.tune.search_space.items()}


@pytest.mark.parametrize("preset", ["report_cnn", "report_cnn_augmented"])
def test_report_cnns_have_42442_parameters(tmp_path, preset) -> None:
    params = preset_params(tmp_path, preset)
    model = build_classifier(fixed_hyperparameters(space_values(params)),
                             params.tune.search_space, params.model, params.train.augmentation)
    assert model.count_params() == trainable(model) == 42_442
    assert not cam_applies(model)


def test_report_resnet50_has_the_reports_parameter_counts(tmp_path) -> None:
    params = preset_params(tmp_path, "report_resnet50_224")
    full = full_classifier(params.model, weights=None)
    assert (full.count_params(), trainable(full)) == (24_769_994, 1_182_282)
    # the head the train stage fits on the cached 7x7x2048 features is that trainable part
    maps = full.get_layer(LAST_CONV["resnet50"]).output.shape[1:]
    assert maps == (7, 7, 2048)
    head = build_classifier(fixed_hyperparameters({"learning_rate": 0.001}),
                            {"learning_rate": 0.001}, params.model, None, input_shape=maps)
    assert head.count_params() == trainable(head) == 1_182_282


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_validates_and_its_model_builds(tmp_path, preset) -> None:
    params = preset_params(tmp_path, preset)
    shape = (32, 32, 3) if params.model.architecture != "backbone_head" else (
        (7, 7, 2048) if params.model.backbone.input_size == 224 else (1, 1, 2048))
    model = build_classifier(fixed_hyperparameters(space_values(params)),
                             params.tune.search_space, params.model, params.train.augmentation,
                             input_shape=shape)
    assert model.predict(np.zeros((2, *shape), "float32"), verbose=0).shape == (2, 10)
    assert cam_applies(model) == (preset == "default")


def test_augmentation_of_cached_features_is_refused(tmp_path) -> None:
    params = preset_params(tmp_path, "report_resnet50_32")
    with pytest.raises(ParamsError, match="augmentation must be null"):
        build_classifier(fixed_hyperparameters({"learning_rate": 0.001}), {}, params.model,
                         preset_params(tmp_path, "default").train.augmentation, (1, 1, 2048))


def test_cosine_schedule_takes_the_searched_rate_to_zero(tmp_path) -> None:
    params = preset_params(tmp_path, "default", **{"cifar10.model.bfloat16": False})
    space = {**space_values(params), "filters": 8}
    model = build_classifier(fixed_hyperparameters(space), space, params.model, None,
                             decay_steps=10)
    optimizer = model.optimizer
    assert float(optimizer.learning_rate) == pytest.approx(space["learning_rate"])
    images = np.zeros((4, 32, 32, 3), "uint8")
    model.fit(images, np.arange(4), batch_size=2, epochs=5, verbose=0)  # 10 steps
    assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)


def test_cosine_with_a_plateau_rule_that_could_fire_is_refused(tmp_path) -> None:
    with pytest.raises(ParamsError, match=r"reduce_lr_patience \(3\) must be at least epochs"):
        preset_params(tmp_path, "default", **{"cifar10.train.reduce_lr_patience": 3})


def test_flip_averaging_of_cached_features_is_refused(tmp_path) -> None:
    with pytest.raises(ParamsError, match="flip_averaging must be false for backbone_head"):
        preset_params(tmp_path, "default", **{"cifar10.model.architecture": "backbone_head"})


def test_flip_averaged_predictions_are_the_mean_over_image_and_mirror(tmp_path) -> None:
    params = preset_params(tmp_path, "report_cnn")
    keras.utils.set_random_seed(5)
    rate = {"learning_rate": 0.001}
    model = build_classifier(fixed_hyperparameters(rate), rate, params.model, None)
    images = np.random.default_rng(1).integers(0, 256, (6, 32, 32, 3)).astype("uint8")
    mirrored = images[:, :, ::-1]
    single, averaged = predict_probabilities(model, images), predict_flip_averaged(model, images)
    assert np.abs(single - predict_probabilities(model, mirrored)).max() > 1e-3  # not symmetric
    np.testing.assert_allclose(averaged, (single + predict_probabilities(model, mirrored)) / 2,
                               atol=1e-6)
    np.testing.assert_allclose(predict_flip_averaged(model, mirrored), averaged, atol=1e-6)


def test_cam_and_grad_cam_are_proportional_for_a_gap_model(tmp_path) -> None:
    params = preset_params(tmp_path, "default", **{"cifar10.model.bfloat16": False})
    space = {**space_values(params), "filters": 8}
    keras.utils.set_random_seed(3)
    model = build_classifier(fixed_hyperparameters(space), space, params.model, None)
    images = np.random.default_rng(0).integers(0, 256, (12, 32, 32, 3)).astype("uint8")
    classes = np.arange(12) % 10
    grad_cam = attribution.grad_cam(model, images, classes, CAM_FEATURES)
    cam = class_activation_maps(model, images, classes)
    assert cam.shape == grad_cam.shape == (12, 32, 32)
    assert cam.max() == pytest.approx(1.0)  # not all blank: the comparison says something
    np.testing.assert_allclose(cam, grad_cam, atol=1e-4)


def small_backbone_weights(folder: Path, size: int) -> Path:
    """A small backbone's (random) weights in a file, standing in for ImageNet's."""
    path = folder / "mobilenet_025.weights.h5"
    BACKBONES["mobilenet_025"](weights=None, include_top=False,
                               input_shape=(size, size, 3)).save_weights(path)
    return path


def test_backbone_weights_come_through_fetch_and_are_checked(tmp_path, server) -> None:
    data = small_backbone_weights(tmp_path, 128).read_bytes()
    url = server.add("weights/mobilenet_025.weights.h5", data)
    params = preset_params(tmp_path, "report_resnet50_224").model.backbone.model_copy(update={
        "architecture": "mobilenet_025", "url": url, "filename": "mobilenet_025.weights.h5",
        "md5": hashlib.md5(data).hexdigest()})
    raw = tmp_path / "raw"
    fetched = fetch_weights(params, raw, mirror=None, partials=tmp_path / "partials")
    assert fetched.read_bytes() == data
    wrong = params.model_copy(update={"md5": "0" * 32, "filename": "other.weights.h5"})
    with pytest.raises(DownloadError, match=r"could not be had(.|\n)*random weights"):
        fetch_weights(wrong, raw, mirror=None, partials=tmp_path / "partials")
    assert not (raw / "weights" / "other.weights.h5").exists()


TINY = {
    "data.synthetic": True,
    "cifar10.tune.max_trials": 2,
    "cifar10.tune.epochs": 1,
    "cifar10.tune.train_subset": 200,
    "cifar10.tune.search_space": {"stages": 2, "convs_per_stage": 1,
                                  "filters": {"values": [8, 16]}, "dropout": 0.1,
                                  "learning_rate": 0.003, "weight_decay": 0.01},
    "cifar10.train.epochs": 2,
    "cifar10.explain.images_per_class": 1,
    "cifar10.evaluate.gallery_size": 8,
}


@pytest.mark.slow
def test_stages_end_to_end(tmp_path: Path, tracking_uri: str) -> None:
    params = write_params(tmp_path, TINY)
    metrics = {stage: run_stage(stage, "cifar10", params_file=params, root=tmp_path)
               for stage in STAGES}
    assert metrics["download"]["photos"] == 12
    assert metrics["preprocess"]["validation_images"] == 40
    assert metrics["tune"]["trials"] == 2
    assert 0 <= metrics["evaluate"]["accuracy"] <= 1 and metrics["evaluate"]["synthetic"]
    paths = ExperimentPaths(tmp_path, "cifar10")
    details = json.loads(paths.details_file("evaluate").read_text())
    assert {f"recall_{name}" for name in ("cat", "dog", "truck")} <= set(details)
    # flip averaging is chosen on validation, and only when it is strictly better there
    assert metrics["evaluate"]["flip_averaged"] == (
        details["validation_accuracy_flip_averaged"] > details["validation_accuracy_single_view"])
    assert (paths.stage_dir("evaluate") / "confident_mistakes.png").is_file()
    explain = metrics["explain"]
    assert explain["cam_applies"] and explain["photos"] == 12
    for outcome in ("right", "wrong"):
        if explain[f"cam_gradcam_correlation_{outcome}"] is not None:
            assert explain[f"cam_gradcam_correlation_{outcome}"] > 0.999
    assert {p.name for p in paths.explain.glob("*.png")} == {
        "maps_right_predictions.png", "maps_wrong_predictions.png", "photos.png"}


@pytest.mark.slow
def test_frozen_backbone_end_to_end(tmp_path: Path, tracking_uri: str, server) -> None:
    """The ResNet50 preset's code path with a small backbone whose weights the test serves:
    weights fetched by download, features cached by preprocess, a head trained on them,
    evaluated on the test features and explained through the backbone."""
    data = small_backbone_weights(tmp_path, 128).read_bytes()
    params = write_params(tmp_path, {
        **TINY, "cifar10.preset": "report_resnet50_224", "cifar10.train.epochs": 1,
        "cifar10.download.cats_dogs": False,
        "cifar10.model.backbone": {
            "architecture": "mobilenet_025", "filename": "mobilenet_025.weights.h5",
            "url": server.add("mobilenet_025.weights.h5", data),
            "md5": hashlib.md5(data).hexdigest(), "input_size": 128, "preprocessing": "tf"}})
    metrics = {stage: run_stage(stage, "cifar10", params_file=params, root=tmp_path)
               for stage in STAGES}
    paths = ExperimentPaths(tmp_path, "cifar10")
    assert (paths.raw / "weights" / "mobilenet_025.weights.h5").read_bytes() == data
    assert metrics["preprocess"]["feature_shape"] == [4, 4, 256]
    assert np.load(paths.processed / "features" / "test_x.npy").shape == (100, 4, 4, 256)
    assert metrics["tune"]["trials"] == 0  # nothing free: recorded, not searched
    assert 0 <= metrics["evaluate"]["accuracy"] <= 1 and not metrics["evaluate"]["flip_averaged"]
    assert not metrics["explain"]["cam_applies"] and metrics["explain"]["photos"] == 0
    assert (paths.explain / "maps_wrong_predictions.png").is_file()


@pytest.mark.real_data
def test_real_photos_come_from_the_mirror_at_32x32(tmp_path, shared_datasets) -> None:
    assert copy_photos(str(shared_datasets), tmp_path / PHOTOS) == 60
    images, labels, names = read_photos(tmp_path)
    assert images.shape == (60, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(labels, minlength=10)[[3, 5]].tolist() == [30, 30]
    assert names[:2] == ["cat.0.jpg", "cat.1.jpg"] and names[-1] == "dog.29.jpg"
    assert copy_photos(str(tmp_path / "no-mirror"), tmp_path / "none") is None
