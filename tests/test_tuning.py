"""Search spaces from params, a KerasTuner search that resumes after an interruption, and
resumes only while its code is the same."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import keras
import keras_tuner as kt
import mlflow
import numpy as np
import pytest
import yaml
from dvc_project import REPO, environment, repository_params, tiny_params
from mlflow import MlflowClient

from pipeline.ml.params import TunerParams
from pipeline.ml.search_space import fixed_hyperparameters, hyperparameter
from pipeline.ml.tuning import search


def test_specs_become_the_right_hyperparameters() -> None:
    params = TunerParams.model_validate({**repository_params("mnist").tune.model_dump(
        mode="json"), "search_space": {
        "blocks": {"min": 1, "max": 4},
        "rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
        "dropout": {"min": 0.0, "max": 0.5, "step": 0.1},
        "activation": {"values": ["relu", "tanh"]},
        "kernel": 3,
    }})
    hp = kt.HyperParameters()
    space = params.search_space
    assert hyperparameter(hp, "blocks", space) == 1
    assert hyperparameter(hp, "kernel", space) == 3
    assert hyperparameter(hp, "missing", space, default=7) == 7
    kinds = {item.name: type(item).__name__ for item in hp.space}
    assert kinds == {"blocks": "Int", "kernel": "Fixed", "missing": "Fixed"}
    hyperparameter(hp, "rate", space)
    hyperparameter(hp, "dropout", space)
    hyperparameter(hp, "activation", space)
    rate = next(item for item in hp.space if item.name == "rate")
    assert type(rate).__name__ == "Float" and rate.sampling == "log"
    assert type(next(i for i in hp.space if i.name == "activation")).__name__ == "Choice"
    with pytest.raises(KeyError, match="no 'nothing'"):
        hyperparameter(hp, "nothing", space)


def test_best_values_rebuild_the_same_choices() -> None:
    hp = fixed_hyperparameters({"blocks": 3, "activation": "tanh"})
    space = {"blocks": {"min": 1, "max": 4}, "activation": {"values": ["relu", "tanh"]}}
    assert hyperparameter(hp, "blocks", space) == 3
    assert hyperparameter(hp, "activation", space) == "tanh"


class Interrupted(KeyboardInterrupt):
    """Stands for Ctrl-C or a killed process in the middle of a trial."""


def test_search_resumes_after_an_interruption(tmp_path, tracking_uri) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    builds: list[int] = []  # one entry per model build

    def build(hp: kt.HyperParameters, interrupt_at: int | None = None) -> keras.Model:
        builds.append(1)
        if len(builds) == interrupt_at:
            raise Interrupted
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(hp.Int("units", 2, 16, step=2), activation="relu")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
        model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-1, sampling="log")),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model

    params = repository_params("mnist").tune.model_copy(update={
        "tuner": "random_search", "max_trials": 3, "epochs": 1, "batch_size": 16})
    arguments = {"params": params, "train": (x, y), "validation": (x, y),
                 "workdir": tmp_path / "search", "seed": 1}
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(), pytest.raises(Interrupted):
        # builds: a probe of the space, KerasTuner's own, then trials: stop inside trial 2
        search(lambda hp: build(hp, interrupt_at=4), **arguments)
    with mlflow.start_run():
        best, trials = search(build, **arguments)
    assert len(trials) == 3 and all(row["status"] == "COMPLETED" for row in trials)
    trial_runs = [run.info.run_name for run in mlflow.search_runs(output_format="list")
                  if run.info.run_name.startswith("trial-")]
    # trial 1 finished before the interruption and was not run again; trial 2 was rerun
    assert sorted(trial_runs) == ["trial-0", "trial-1", "trial-1", "trial-2"]
    assert set(best) == {"units", "lr"}


def test_a_space_with_nothing_free_is_not_searched(tmp_path) -> None:
    def build(hp: kt.HyperParameters) -> keras.Model:
        hyperparameter(hp, "units", {"units": 8})
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])

    best, trials = search(build, params=repository_params("mnist").tune, train=(None, None),
                          validation=(None, None), workdir=tmp_path / "search", seed=0)
    assert best == {"units": 8} and trials == []


def run_module(module: str, project: Path) -> str:
    """``python -m module`` in ``project``, whose own copy of the package it imports."""
    result = subprocess.run([sys.executable, "-m", module], cwd=project, env=environment(),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def trial_runs(project: Path) -> int:
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    return sum(run.info.run_name.startswith("trial-") for run in client.search_runs(
        [client.get_experiment_by_name("pipeline").experiment_id]))


@pytest.mark.slow
def test_a_search_resumes_only_for_the_same_code(tmp_path: Path) -> None:
    """Rerunning tune finds the finished search; after a change to the model builder (a code
    dependency of tune that DVC reruns it for) the trials run again instead of returning the
    old search's best values."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "pipeline", project / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    for stage in ("download", "preprocess", "tune"):
        run_module(f"pipeline.experiments.mnist.{stage}", project)
    assert trial_runs(project) == 2

    again = run_module("pipeline.experiments.mnist.tune", project)
    assert "resuming the search" in again and "(2 trials done)" in again
    assert trial_runs(project) == 2  # nothing trained again

    model = project / "pipeline/experiments/mnist/model.py"
    builder = model.read_text()
    changed = builder.replace('layers.Dense(len(CLASSES), name="logits")',
                              'layers.Dense(len(CLASSES), kernel_initializer="he_normal", '
                              'name="logits")')
    assert changed != builder, "the edit this test makes no longer applies to model.py"
    model.write_text(changed)
    changed_run = run_module("pipeline.experiments.mnist.tune", project)
    assert "resuming the search" not in changed_run
    assert trial_runs(project) == 4
