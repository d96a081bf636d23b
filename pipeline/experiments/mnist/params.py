"""The ``mnist`` section of ``params.yaml``."""

from __future__ import annotations

from pydantic import Field

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel
from pipeline.ml.params import TunerParams
from pipeline.ml.schedules import ScheduledTrainParams


class DownloadParams(StrictModel):
    url: str
    sha256: str
    size: int
    synthetic_train_images: int = Field(ge=100)
    synthetic_test_images: int = Field(ge=50)


class PreprocessParams(StrictModel):
    validation_fraction: float = Field(gt=0, lt=0.5)


class AugmentationParams(StrictModel):
    rotation: float = Field(ge=0, le=0.5, description="fraction of a full turn")
    translation: float = Field(ge=0, le=0.5, description="fraction of the image size")
    zoom: float = Field(ge=0, le=0.5)


class MnistTrainParams(ScheduledTrainParams):
    augmentation: AugmentationParams | None


class EvaluateParams(StrictModel):
    gallery_size: int = Field(ge=1, le=200)


class ExplainParams(StrictModel):
    images_per_gallery: int = Field(ge=1, le=100)


class Params(StrictModel):
    download: DownloadParams
    preprocess: PreprocessParams
    tune: TunerParams
    train: MnistTrainParams
    evaluate: EvaluateParams
    explain: ExplainParams


EXPERIMENT = Experiment("mnist", Params)
