"""The ``mnist`` section of ``params.yaml``."""

from __future__ import annotations

from pydantic import Field

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel
from pipeline.ml.params import TrainParams, TunerParams


class DownloadParams(StrictModel):
    url: str = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    sha256: str = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
    size: int = 11_490_434
    synthetic_train_images: int = Field(1200, ge=100)
    synthetic_test_images: int = Field(300, ge=50)


class PreprocessParams(StrictModel):
    validation_fraction: float = Field(0.1, gt=0, lt=0.5)


class AugmentationParams(StrictModel):
    rotation: float = Field(0.05, ge=0, le=0.5, description="fraction of a full turn")
    translation: float = Field(0.1, ge=0, le=0.5, description="fraction of the image size")
    zoom: float = Field(0.1, ge=0, le=0.5)


class MnistTrainParams(TrainParams):
    augmentation: AugmentationParams | None = AugmentationParams()


class EvaluateParams(StrictModel):
    gallery_size: int = Field(40, ge=1, le=200)


class ExplainParams(StrictModel):
    images_per_gallery: int = Field(24, ge=1, le=100)


class Params(StrictModel):
    download: DownloadParams = DownloadParams()
    preprocess: PreprocessParams = PreprocessParams()
    tune: TunerParams = TunerParams()
    train: MnistTrainParams = MnistTrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    explain: ExplainParams = ExplainParams()


EXPERIMENT = Experiment("mnist", Params)
