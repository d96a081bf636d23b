"""The ``sysid`` section of ``params.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel
from pipeline.ml.params import TrainParams, TunerParams


class SystemParams(StrictModel):
    """``y[k] = b0 x[k] + b1 x[k-1] + b2 x[k-2] + c1 y[k-1] + c2 y[k-2]`` plus measurement
    noise of standard deviation ``noise_std`` on the recorded output."""

    input_coefficients: list[float] = Field(min_length=3, max_length=3, description="b0..b2")
    output_coefficients: list[float] = Field(min_length=2, max_length=2, description="c1, c2")
    noise_std: float = Field(ge=0)


class DrawnRegressors(StrictModel):
    """The report's way with an unstable system: each regressor row drawn independently and
    uniformly in [low, high], the target computed from it (no record is simulated)."""

    samples: int = Field(ge=100)
    low: float
    high: float

    @model_validator(mode="after")
    def _check_range(self) -> DrawnRegressors:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class InputRecord(StrictModel):
    """One simulated input/output record of the stable system: white input of the given kind
    and amplitude (uniform in [-a, a], or Gaussian of standard deviation a)."""

    identification_samples: int = Field(ge=100)
    held_out_samples: int = Field(ge=50)
    input: Literal["uniform", "gaussian"]
    amplitude: float = Field(gt=0)


class DownloadParams(StrictModel):
    report_system: SystemParams
    drawn: DrawnRegressors
    stable_system: SystemParams
    record: InputRecord
    impulse_samples: int = Field(ge=3, le=200)


class PreprocessParams(StrictModel):
    validation_fraction: float = Field(gt=0, lt=0.5, description="of the identification data")
    test_fraction: float = Field(gt=0, lt=0.5, description="of the drawn regressors")


class AdalineParams(StrictModel):
    """LMS (Widrow-Hoff) on one linear neuron: ``w += step * e * u`` per sample, ``epochs``
    passes over the training rows in a seeded order."""

    step: float = Field(gt=0)
    epochs: int = Field(ge=1)


class SysidTrainParams(TrainParams):
    adaline: AdalineParams


class Params(StrictModel):
    download: DownloadParams
    preprocess: PreprocessParams
    tune: TunerParams
    train: SysidTrainParams


EXPERIMENT = Experiment("sysid", Params, simulated=True)
