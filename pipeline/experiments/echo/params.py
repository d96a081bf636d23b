"""The ``echo`` section of ``params.yaml``."""

from __future__ import annotations

from pydantic import Field

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel


class EchoPathParams(StrictModel):
    """An FIR room response: ``delay`` zeros, then Gaussian taps decaying as exp(-decay k),
    scaled to an L2 norm of ``gain``."""

    taps: int = Field(ge=2, le=1024)
    delay: int = Field(ge=0)
    decay: float = Field(ge=0)
    gain: float = Field(gt=0)


class DownloadParams(StrictModel):
    samples: int = Field(ge=1000, description="per record (tuning and test)")
    change_at: int | None = Field(description="the echo path steps to a new one here")
    far_end_ar: list[float] = Field(min_length=1, description="A(z) = 1 + a1 z^-1 + ...")
    echo_path: EchoPathParams
    echo_to_noise_db: float


class TuneParams(StrictModel):
    """Candidates, each run on the tuning record and scored by its mean ERLE (dB) over the
    whole record, which rewards fast convergence, tracking and a deep steady state alike."""

    lms_step_fractions: list[float] = Field(min_length=1, description="of the LMS bound")
    nlms_steps: list[float] = Field(min_length=1)
    rls_forgetting: list[float] = Field(min_length=1)


class EvaluateParams(StrictModel):
    taps: int = Field(ge=1, le=1024, description="adaptive filter length")
    window: int = Field(ge=10, description="ERLE's moving-power window, samples")
    steady_fraction: float = Field(gt=0, le=1, description="tail of a segment in steady state")
    snapshot_every: int = Field(ge=1)
    nlms_regularization: float = Field(gt=0)
    rls_delta: float = Field(gt=0, description="P(0) = I / delta")
    sign_lms_step: float = Field(gt=0, description="the report's sign-activation ADALINE")


class Params(StrictModel):
    download: DownloadParams
    tune: TuneParams
    evaluate: EvaluateParams


EXPERIMENT = Experiment("echo", Params, simulated=True)
