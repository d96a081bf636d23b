"""The ``cifar10`` section of ``params.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel
from pipeline.ml.params import TunerParams
from pipeline.ml.schedules import ScheduledTrainParams


class DownloadParams(StrictModel):
    cats_dogs: bool = Field(description="also keep the mirror's 60 cat and dog photos "
                            "(cats-dogs/), for explain; skipped when absent")
    synthetic_photos: int = Field(ge=1, le=30, description="stand-in photos per animal in "
                                  "synthetic mode")


class PreprocessParams(StrictModel):
    validation_fraction: float = Field(gt=0, lt=0.5, description="stratified, from the "
                                       "official training set")
    feature_batch_size: int = Field(ge=1, description="images per batch through a frozen "
                                    "backbone")


class BackboneParams(StrictModel):
    """A frozen ImageNet backbone whose features are computed once (preprocess) and a head
    trained on them; its weights are fetched by the download stage, verified by md5."""

    architecture: Literal["resnet50", "mobilenet_025"]
    url: str
    filename: str = Field(description="the weights file's name, in a mirror too: "
                          "<mirror>/keras-applications/<filename>")
    md5: str = Field(pattern=r"^[0-9a-f]{32}$")
    input_size: int = Field(ge=32, description="images are resized to this side")
    preprocessing: Literal["caffe", "tf"] = Field(description="keras.applications' modes: "
                                                  "caffe = BGR minus the ImageNet mean")


class ModelParams(StrictModel):
    architecture: Literal["gap_cnn", "report_cnn", "backbone_head"] = Field(
        description="gap_cnn: searched conv stages, global average pooling, one dense layer "
        "(CAM applies); report_cnn: the report's two conv layers; backbone_head: a head on "
        "the frozen backbone's cached features")
    head: Literal["conv_pool", "flatten"] = Field(
        description="backbone_head only. conv_pool: Conv2D(64, 3x3) -> MaxPool2 -> Flatten "
        "-> Dense (the report's ResNet50 head); flatten: Flatten -> Dense")
    bfloat16: bool = Field(description="gap_cnn: convolutions in bfloat16 (mixed precision: "
                           "about 1.8x faster on CPUs with AVX512-BF16 / AMX, measured)")
    backbone: BackboneParams


class AugmentationParams(StrictModel):
    flip: Literal["horizontal", "horizontal_and_vertical"] | None
    rotation: float = Field(ge=0, le=0.5, description="fraction of a full turn")
    translation: float = Field(ge=0, le=0.5, description="fraction of the image size")


class Cifar10TrainParams(ScheduledTrainParams):
    augmentation: AugmentationParams | None


class EvaluateParams(StrictModel):
    gallery_size: int = Field(ge=1, le=200, description="the most confident mistakes shown")
    flip_averaging: bool = Field(
        description="average the predictions on each image and its mirror image, where that "
        "is more accurate on the validation split (decided before the test split is read)")


class ExplainParams(StrictModel):
    images_per_class: int = Field(ge=1, le=8, description="right and wrong predictions "
                                  "shown per class")


class Params(StrictModel):
    download: DownloadParams
    preprocess: PreprocessParams
    model: ModelParams
    tune: TunerParams
    train: Cifar10TrainParams
    evaluate: EvaluateParams
    explain: ExplainParams

    @model_validator(mode="after")
    def _check_flip_averaging(self) -> Params:
        if self.evaluate.flip_averaging and self.model.architecture == "backbone_head":
            raise ValueError("evaluate.flip_averaging must be false for backbone_head: the head "
                             "reads the backbone's cached features of the unflipped images")
        return self


EXPERIMENT = Experiment("cifar10", Params)
