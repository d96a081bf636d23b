"""Hyperparameter search with KerasTuner, shared by every dataset.

A search space is declared in ``params.yaml`` as a mapping from hyperparameter name to a spec:

* a scalar (``relu``, ``3``, ``true``) — fixed;
* ``{values: [...]}`` — a choice;
* ``{min: .., max: .., step: ..}`` — an integer range when min and max are integers, else a
  float range; ``sampling: log`` for a log scale (learning rates).

The dataset's model builder reads hyperparameters through :func:`hyperparameter`, so the same
builder serves the search (``hp`` from the tuner) and the final training (``hp`` rebuilt from
the best values). Each trial is logged to MLflow as a nested run; the tuner's state lives in a
folder keyed by the search configuration, so an interrupted search resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import keras
import keras_tuner as kt
import mlflow
from pydantic import Field, model_validator

from pipeline.config import StrictModel
from pipeline.errors import PipelineError
from pipeline.training import MlflowEpochLogger

log = logging.getLogger(__name__)

Scalar = int | float | bool | str


class ChoiceSpec(StrictModel):
    values: list[Scalar] = Field(min_length=1)


class RangeSpec(StrictModel):
    min: float
    max: float
    step: float | None = None
    sampling: Literal["linear", "log"] = "linear"

    @model_validator(mode="after")
    def _check_bounds(self) -> RangeSpec:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        if self.sampling == "log" and self.min <= 0:
            raise ValueError("a log-scale range needs min > 0")
        return self

    @property
    def is_integer(self) -> bool:
        return (
            float(self.min).is_integer()
            and float(self.max).is_integer()
            and (self.step is None or float(self.step).is_integer())
            and self.sampling == "linear"
        )


HyperparameterSpec = Scalar | ChoiceSpec | RangeSpec
SearchSpace = dict[str, HyperparameterSpec]


class TunerParams(StrictModel):
    tuner: Literal["hyperband", "random_search", "bayesian_optimization"] = "hyperband"
    objective: str = "val_accuracy"
    max_trials: int = Field(10, ge=1, description="RandomSearch / BayesianOptimization trials")
    epochs: int = Field(3, ge=1, description="epochs per trial (RandomSearch / Bayesian)")
    max_epochs: int = Field(4, ge=1, description="Hyperband: most epochs one model gets")
    factor: int = Field(3, ge=2, description="Hyperband reduction factor")
    hyperband_iterations: int = Field(1, ge=1)
    executions_per_trial: int = Field(1, ge=1)
    batch_size: int = Field(128, ge=1, description="unless the space declares batch_size")
    early_stopping_patience: int = Field(2, ge=1)
    search_space: SearchSpace = Field(default_factory=dict)


def hyperparameter(
    hp: kt.HyperParameters, name: str, space: Mapping[str, Any], default: Any = None
) -> Any:
    """Declare ``name`` on ``hp`` from its spec in ``space`` and return its value.

    ``space[name]`` falls back to ``default`` (a spec too) when the space does not mention it.
    """
    spec = space.get(name, default)
    if spec is None:
        raise KeyError(f"search space has no {name!r} and no default was given")
    if isinstance(spec, dict):
        spec = (ChoiceSpec if "values" in spec else RangeSpec).model_validate(spec)
    if isinstance(spec, ChoiceSpec):
        return hp.Choice(name, spec.values)
    if isinstance(spec, RangeSpec):
        if spec.is_integer:
            return hp.Int(name, int(spec.min), int(spec.max), step=int(spec.step or 1))
        return hp.Float(name, spec.min, spec.max, step=spec.step, sampling=spec.sampling)
    return hp.Fixed(name, spec)


def fixed_hyperparameters(values: Mapping[str, Any]) -> kt.HyperParameters:
    """HyperParameters holding exactly ``values`` (the best trial's), for retraining."""
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


class _SpaceHyperModel(kt.HyperModel):
    """Builds with the dataset's builder; uses ``batch_size`` from the space when declared."""

    def __init__(self, build: Callable[[kt.HyperParameters], keras.Model], batch_size: int):
        super().__init__()
        self._build = build
        self._batch_size = batch_size

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        return self._build(hp)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        kwargs["batch_size"] = hp.values.get("batch_size", self._batch_size)
        return model.fit(*args, **kwargs)


@contextmanager
def trial_run(trial: kt.engine.trial.Trial) -> Iterator[None]:
    """A nested MLflow run for one tuning trial, tagged and holding its hyperparameters."""
    with mlflow.start_run(run_name=f"trial-{trial.trial_id}", nested=True):
        mlflow.set_tag("trial_id", trial.trial_id)
        mlflow.log_params(trial.hyperparameters.values)
        yield


class _MlflowTrials:
    """Mixin: each trial is a nested MLflow run with its hyperparameters and epoch metrics."""

    def run_trial(self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any) -> Any:
        with trial_run(trial):
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), MlflowEpochLogger()]
            return super().run_trial(trial, *args, **kwargs)  # type: ignore[misc]


_TUNERS: dict[str, type[kt.Tuner]] = {
    "hyperband": kt.Hyperband,
    "random_search": kt.RandomSearch,
    "bayesian_optimization": kt.BayesianOptimization,
}


def _tuner_arguments(params: TunerParams) -> dict[str, Any]:
    if params.tuner == "hyperband":
        return {
            "max_epochs": params.max_epochs,
            "factor": params.factor,
            "hyperband_iterations": params.hyperband_iterations,
        }
    return {"max_trials": params.max_trials}


def _without_tuner_bookkeeping(values: Mapping[str, Any]) -> dict[str, Any]:
    """Hyperband adds ``tuner/epochs`` and friends to each trial; they are not the model's."""
    return {key: value for key, value in values.items() if not key.startswith("tuner/")}


def configuration_hash(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (search space, tuner params, data version)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def search(
    build: Callable[[kt.HyperParameters], keras.Model],
    *,
    params: TunerParams,
    train: tuple[Any, Any],
    validation: tuple[Any, Any],
    workdir: Path,
    seed: int,
    class_weight: Mapping[int, float] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Search the space ``build`` declares on ``validation`` data only.

    Returns the best hyperparameter values and one row per trial (values, score, status).
    A space with nothing to search (every hyperparameter fixed) is not searched.
    """
    probe = kt.HyperParameters()
    build(probe)
    if all(isinstance(item, kt.engine.hyperparameters.Fixed) for item in probe.space):
        log.info("search space has no free hyperparameter: nothing to search")
        return dict(probe.values), []

    tuner_class = type(
        f"Mlflow{_TUNERS[params.tuner].__name__}", (_MlflowTrials, _TUNERS[params.tuner]), {}
    )
    tuner = tuner_class(
        hypermodel=_SpaceHyperModel(build, params.batch_size),
        objective=params.objective,
        executions_per_trial=params.executions_per_trial,
        seed=seed,
        directory=str(workdir.parent),
        project_name=workdir.name,
        overwrite=False,
        **_tuner_arguments(params),
    )
    if tuner.oracle.trials:
        log.info("resuming the search in %s (%d trials done)", workdir, len(tuner.oracle.trials))
    stop_early = keras.callbacks.EarlyStopping(
        monitor=params.objective,
        patience=params.early_stopping_patience,
        mode=tuner.oracle.objective.direction,
    )
    fit_arguments: dict[str, Any] = {
        "x": train[0],
        "y": train[1],
        "validation_data": validation,
        "callbacks": [stop_early],
        "class_weight": dict(class_weight) if class_weight else None,
        "verbose": 2,
    }
    if params.tuner != "hyperband":
        fit_arguments["epochs"] = params.epochs
    tuner.search(**fit_arguments)
    completed = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    if not completed:
        failures = [t.message for t in tuner.oracle.trials.values() if t.message]
        raise PipelineError(
            f"every trial of the search in {workdir} failed; the first error:\n"
            + (failures[0] if failures else "(no message)")
        )
    best = _without_tuner_bookkeeping(tuner.get_best_hyperparameters(1)[0].values)
    trials = [
        {
            "trial_id": trial.trial_id,
            "status": trial.status,
            "score": trial.score,
            **_without_tuner_bookkeeping(trial.hyperparameters.values),
        }
        for trial in tuner.oracle.trials.values()
    ]
    return best, trials
