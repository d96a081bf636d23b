"""Search spaces from params, and a KerasTuner search that resumes after an interruption."""

from __future__ import annotations

import keras
import keras_tuner as kt
import mlflow
import numpy as np
import pytest

from pipeline.tuning import TunerParams, fixed_hyperparameters, hyperparameter, search


def test_specs_become_the_right_hyperparameters() -> None:
    params = TunerParams.model_validate({"search_space": {
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

    params = TunerParams(tuner="random_search", max_trials=3, epochs=1, batch_size=16)
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

    best, trials = search(build, params=TunerParams(), train=(None, None),
                          validation=(None, None), workdir=tmp_path / "search", seed=0)
    assert best == {"units": 8} and trials == []
