"""The ``vae`` section of ``params.yaml``."""

from __future__ import annotations

from pydantic import Field

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel
from pipeline.ml.params import TrainParams, TunerParams


class DownloadParams(StrictModel):
    base_url: str = Field(description="where the four official files are, joined by name")
    sha256: dict[str, str] = Field(description="file name -> sha256 of the official file")
    synthetic_train_images: int = Field(ge=100)
    synthetic_test_images: int = Field(ge=50)


class PreprocessParams(StrictModel):
    validation_fraction: float = Field(gt=0, lt=0.5)


class EvaluateParams(StrictModel):
    elbo_samples: int = Field(ge=1, description="codes per test image for the ELBO")
    bound_images: int | None = Field(ge=10, description="stratified test subset for the "
                                     "importance-weighted bound (null: all)")
    importance_samples: int = Field(ge=2, description="codes per image for the bound")
    batch_size: int = Field(ge=1, description="images per step (each with its codes)")


class ExplainParams(StrictModel):
    grid_size: int = Field(ge=3, le=30, description="decoded manifold: grid_size^2 images")
    images: int = Field(ge=1, le=64, description="reconstructions and prior samples shown")
    points: int = Field(ge=100, description="test images in the latent-space scatter")


class Params(StrictModel):
    download: DownloadParams
    preprocess: PreprocessParams
    tune: TunerParams
    train: TrainParams
    evaluate: EvaluateParams
    explain: ExplainParams


EXPERIMENT = Experiment("vae", Params)
