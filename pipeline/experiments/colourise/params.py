"""The ``colourise`` section of ``params.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel
from pipeline.ml.params import TrainParams, TunerParams


class DownloadParams(StrictModel):
    source: Literal["cifar10", "fruits360"]
    fruits360_classes: list[str] = Field(min_length=1, description="Fruits-360 classes read "
                                         "(source fruits360 only)")
    synthetic_per_class: int = Field(ge=2, description="Fruits-360 stand-ins per class and "
                                     "split (CIFAR-10's stand-ins are sized by its reader)")


class PreprocessParams(StrictModel):
    validation_fraction: float = Field(gt=0, lt=0.5, description="stratified, from the "
                                       "training split")
    train_images: int | None = Field(ge=10, description="stratified subset kept for training "
                                     "(null: all)")
    validation_images: int | None = Field(ge=10, description="stratified subset kept for "
                                          "validation (null: all)")


class ModelParams(StrictModel):
    architecture: Literal["unet", "encoder_decoder"] = Field(
        description="unet: L -> Lab a*b* with skip connections (ours); encoder_decoder: "
        "gray -> RGB (the report's)")


class EvaluateParams(StrictModel):
    test_images: int | None = Field(ge=10, description="stratified test subset (null: all)")
    ssim_window: int = Field(ge=3, description="SSIM window side, odd, at most the image side")
    batch_size: int = Field(ge=1)
    examples: int = Field(ge=1, le=32, description="test images kept for explain in each "
                          "group: the best, the worst (by chroma error) and random ones")

    @field_validator("ssim_window")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"the SSIM window must be odd, got {value}")
        return value


class ExplainParams(StrictModel):
    error_scale: float = Field(gt=0, description="chroma error (CIE Lab units) at the top of "
                               "the error maps' colour scale")


class Params(StrictModel):
    download: DownloadParams
    preprocess: PreprocessParams
    model: ModelParams
    tune: TunerParams
    train: TrainParams
    evaluate: EvaluateParams
    explain: ExplainParams


EXPERIMENT = Experiment("colourise", Params)
