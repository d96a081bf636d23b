"""Learning-rate schedules a train section chooses between: the plateau rule (Keras's
ReduceLROnPlateau, which :func:`pipeline.ml.training.fit` attaches) or a cosine from the
searched rate to zero over the run's optimizer steps."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import keras
from pydantic import Field, model_validator

from pipeline.ml.params import TrainParams


class ScheduledTrainParams(TrainParams):
    learning_rate_schedule: Literal["plateau", "cosine"] = Field(
        description="plateau: divide by 1/reduce_lr_factor when the monitor stalls; cosine: "
        "from the searched rate to zero over the epochs, per step (the plateau rule is then "
        "disabled: reduce_lr_patience must be at least epochs)")

    @model_validator(mode="after")
    def _check_schedule(self) -> ScheduledTrainParams:
        if self.learning_rate_schedule == "cosine" and self.reduce_lr_patience < self.epochs:
            raise ValueError(
                f"learning_rate_schedule cosine sets the rate at every step, so the plateau "
                f"decay must never fire: reduce_lr_patience ({self.reduce_lr_patience}) must "
                f"be at least epochs ({self.epochs})")
        return self


def cosine_decay_steps(params: ScheduledTrainParams, samples: int,
                       hyperparameters: Mapping[str, Any]) -> int | None:
    """The optimizer steps of the whole run when the schedule is cosine (the batch size is
    the searched one where the space has it, as in training); None otherwise."""
    if params.learning_rate_schedule != "cosine":
        return None
    batch_size = hyperparameters.get("batch_size", params.batch_size)
    return params.epochs * math.ceil(samples / batch_size)


def scheduled_learning_rate(rate: float, decay_steps: int | None
                  ) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """``rate``, or a cosine from ``rate`` to zero over ``decay_steps`` steps."""
    if decay_steps is None:
        return rate
    return keras.optimizers.schedules.CosineDecay(rate, decay_steps)
