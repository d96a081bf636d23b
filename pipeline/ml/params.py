"""The params schemas of the ML toolkit, shared by every experiment's ``params.py``: search
spaces, objectives, tuner and training settings. (Apart from the code that uses them, so that
validating a section does not import, and depend on, the tuner or the training loop.)

A search space maps hyperparameter names to specs:

* a scalar (``relu``, ``3``, ``true``) — fixed;
* ``{values: [...]}`` — a choice;
* ``{min: .., max: .., step: ..}`` — an integer range when min and max are integers, else a
  float range; ``sampling: log`` for a log scale (learning rates).

An :class:`Objective` says what "best" means: a metric's name and whether higher or lower is
better. Declared once in params (``tune.objective``, ``train.monitor``), it is used wherever a
best is chosen: KerasTuner's search, early stopping and learning-rate decay, the best epoch,
the model registry's champion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import keras_tuner as kt
import numpy as np
from pydantic import Field, model_validator

from pipeline.core.params import StrictModel

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



class Objective(StrictModel):
    name: str
    direction: Literal["min", "max"]

    def best_index(self, values: Sequence[float]) -> int:
        """Position of the best value (the first of equals)."""
        array = np.asarray(values, dtype=float)
        return int(np.nanargmax(array) if self.direction == "max" else np.nanargmin(array))

    def best(self, values: Sequence[float | None]) -> float | None:
        """The best of the values that exist; None when there are none."""
        present = [value for value in values if value is not None]
        return float(present[self.best_index(present)]) if present else None

    def for_keras_tuner(self) -> kt.Objective:
        return kt.Objective(self.name, self.direction)


class TunerParams(StrictModel):
    tuner: Literal["hyperband", "random_search", "bayesian_optimization"]
    objective: Objective
    max_trials: int = Field(ge=1, description="RandomSearch / BayesianOptimization trials")
    epochs: int = Field(ge=1, description="epochs per trial (RandomSearch / Bayesian)")
    max_epochs: int = Field(ge=1, description="Hyperband: most epochs one model gets")
    factor: int = Field(ge=2, description="Hyperband reduction factor")
    hyperband_iterations: int = Field(ge=1)
    executions_per_trial: int = Field(ge=1)
    batch_size: int = Field(ge=1, description="unless the space declares batch_size")
    early_stopping_patience: int = Field(ge=1)
    train_subset: int | None = Field(
        ge=10, description="tune on a stratified subset of the training split (speed)"
    )
    search_space: SearchSpace = Field()


class TrainParams(StrictModel):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    monitor: Objective = Field(description="what early stopping and LR decay watch")
    early_stopping_patience: int = Field(ge=1)
    reduce_lr_patience: int = Field(ge=1)
    reduce_lr_factor: float = Field(gt=0, lt=1)
    mixed_precision: bool = Field(description="float16 compute on GPU; ignored on CPU")
