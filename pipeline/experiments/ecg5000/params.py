"""The ``ecg5000`` section of ``params.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel
from pipeline.ml.params import TrainParams, TunerParams

TUTORIAL_URL = "https://storage.googleapis.com/download.tensorflow.org/data/ecg.csv"
ARCHIVE_URL = "https://timeseriesclassification.com/aeon-toolkit/ECG5000.zip"


class DownloadParams(StrictModel):
    layout: Literal["ucr", "csv"]
    ucr_url: str = Field(description="ucr: the UCR/UEA archive's zip of the "
                         "official split (the file aeon's loader reads); no checksum is "
                         "published, so its content is verified by fingerprint")
    csv_source: str = Field(description="csv: the file's URL or a local path")
    csv_sha256: str | None = Field(description="csv: the file's sha256, when known")
    csv_rows: int | None = Field(ge=1, description="csv: the rows a complete file has "
                                 "(the tutorial's 4998), checked when no sha256 is known; "
                                 "null: any")
    synthetic_train_beats: int = Field(ge=60)
    synthetic_test_beats: int = Field(ge=60)


class PreprocessParams(StrictModel):
    task: Literal["binary", "multiclass"]
    invalid_rows: Literal["drop", "fail"] = Field(
        description="drop (and count) unusable rows, or fail on the first file with any"
    )
    validation_fraction: float = Field(gt=0, lt=0.5)
    test_fraction: float = Field(
        gt=0, lt=0.5, description="csv layout only: UCR has its official test file"
    )
    csv_normal_label: Literal[0, 1] = Field(description="the label of normal beats in a csv")
    binary_training_labels: Literal["beat_classes", "normal_abnormal"] = Field(
        description="binary task: train on the five beat classes (scored as normal vs "
        "abnormal) or on the two labels; a csv has only the two",
    )
    class_weights: Literal["balanced", "sqrt_balanced", "none"]


class AugmentationParams(StrictModel):
    noise: float = Field(ge=0, description="std of added Gaussian noise (scaled units)")
    shift: float = Field(ge=0, le=0.3, description="random time shift, fraction of 140")


class EcgTrainParams(TrainParams):
    augmentation: AugmentationParams | None
    ensemble_members: int = Field(
        ge=1, le=10, description="independently initialised copies of the tuned model, "
        "trained together, their logits averaged (the search itself tunes one)"
    )


class EvaluateParams(StrictModel):
    gallery_size: int = Field(ge=1, le=200)
    baselines: bool = Field(description="also score logistic regression and 1-NN")


class ExplainParams(StrictModel):
    beats_per_group: int = Field(ge=1, le=20, description="typical / misclassified, per class")
    beats_for_class_profile: int = Field(ge=1, description="test beats per class averaged")
    integrated_gradients_steps: int = Field(ge=4, le=256, description="recurrent networks")
    shapley_segment: int = Field(
        ge=1, le=140, description="ROCKET: samples per time segment, the players of its "
        "Shapley values (integrated gradients cannot see its step-function feature)")
    shapley_permutations: int = Field(
        ge=1, description="ROCKET: random segment orders per beat, each also taken reversed")


class RandomKernelParams(StrictModel):
    kernels: int = Field(ge=1, description="random convolutions (ROCKET's default)")
    features: list[Literal["max", "max_ppv", "max_ppv_diff"]] = Field(
        min_length=1, description="feature sets tried: the maximum of each response, or also "
        "its proportion of positive values, or both with half of the kernels on the first "
        "difference; the lowest leave-one-out error on the training split is kept")
    ridge_alphas: list[float] = Field(
        min_length=1,
        description="ridge strengths, the best chosen by leave-one-out on the training beats",
    )


class EcgTuneParams(TunerParams):
    model: Literal["random_kernels", "recurrent"] = Field(
        description="ROCKET + ridge, or the KerasTuner-searched recurrent "
        "networks (search_space)")
    random_kernels: RandomKernelParams


class Params(StrictModel):
    download: DownloadParams
    preprocess: PreprocessParams
    tune: EcgTuneParams
    train: EcgTrainParams
    evaluate: EvaluateParams
    explain: ExplainParams


EXPERIMENT = Experiment("ecg5000", Params)
