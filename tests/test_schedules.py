"""Learning-rate schedules: the cosine's step count, the rate it reaches, and which experiments
train with which schedule."""

from __future__ import annotations

from pathlib import Path

import keras_tuner as kt
import numpy as np
import pytest
import yaml
from dvc_project import write_params

from pipeline.core.errors import ParamsError
from pipeline.core.params import load_experiment_params
from pipeline.experiments.mnist.model import build_cnn
from pipeline.experiments.mnist.params import Params
from pipeline.ml.schedules import ScheduledTrainParams, cosine_decay_steps

REPO = Path(__file__).resolve().parents[1]
MNIST_PRESETS = yaml.safe_load((REPO / "params.yaml").read_text())["mnist"]["presets"]
SMALL_CNN = {"conv_blocks": 1, "filters": 4, "dense_layers": 1, "units": 8,
             "learning_rate": 0.01}


def train_params(**changes) -> ScheduledTrainParams:
    return ScheduledTrainParams(**{
        "epochs": 3, "batch_size": 32, "monitor": {"name": "val_loss", "direction": "min"},
        "early_stopping_patience": 3, "reduce_lr_patience": 3, "reduce_lr_factor": 0.5,
        "mixed_precision": False, "learning_rate_schedule": "cosine", **changes})


def test_cosine_spans_every_step_of_the_run_at_the_batch_size_that_trains() -> None:
    assert cosine_decay_steps(train_params(), 100, {}) == 3 * 4  # ceil(100 / 32) steps/epoch
    assert cosine_decay_steps(train_params(), 100, {"batch_size": 50}) == 3 * 2  # searched
    assert cosine_decay_steps(train_params(learning_rate_schedule="plateau"), 100, {}) is None


def test_a_plateau_rule_that_could_fire_under_cosine_is_refused() -> None:
    with pytest.raises(ValueError, match=r"reduce_lr_patience \(2\) must be at least epochs"):
        train_params(reduce_lr_patience=2)


def test_mnist_cnn_decays_the_searched_rate_to_zero_over_the_run() -> None:
    hp = kt.HyperParameters()
    model = build_cnn(hp, SMALL_CNN, None, decay_steps=6)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    model.fit(np.zeros((4, 28, 28, 1), "float32"), np.arange(4), batch_size=2, epochs=3,
              verbose=0)  # 6 steps
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    constant = build_cnn(kt.HyperParameters(), SMALL_CNN, None)
    constant.fit(np.zeros((4, 28, 28, 1), "float32"), np.arange(4), batch_size=2, verbose=0)
    assert float(constant.optimizer.learning_rate) == pytest.approx(0.01)


@pytest.mark.parametrize("preset", ["default", *MNIST_PRESETS])
def test_mnist_default_trains_on_a_cosine_and_the_reports_on_the_plateau_rule(
        tmp_path, preset) -> None:
    params = load_experiment_params(write_params(tmp_path, {"mnist.preset": preset}), "mnist",
                                    Params).train
    expected = "cosine" if preset == "default" else "plateau"
    assert params.learning_rate_schedule == expected


def test_mnist_cosine_with_a_plateau_rule_that_could_fire_is_refused(tmp_path) -> None:
    with pytest.raises(ParamsError, match=r"mnist.*reduce_lr_patience"):
        load_experiment_params(write_params(tmp_path, {"mnist.train.reduce_lr_patience": 3}),
                               "mnist", Params)
