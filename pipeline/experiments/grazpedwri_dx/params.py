"""The ``grazpedwri_dx`` section of ``params.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, model_validator

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel
from pipeline.ml.params import ChoiceSpec, Objective, TrainParams, TunerParams

METADATA_FILE = "dataset.csv"
# the keras.applications backbones the model offers (their constructors: model.BACKBONES)
BACKBONE_NAMES = ("mobilenet_v2", "efficientnet_b0", "resnet50", "densenet121")
ARCHITECTURES = ("small_cnn", *BACKBONE_NAMES)


def archive_names(files: Mapping[str, int]) -> list[str]:
    """The image archives among the article's files (``images_part<n>.zip``), in order."""
    return sorted(name for name in files if name.startswith("images_part") and
                  name.endswith(".zip"))


class SyntheticParams(StrictModel):
    images: int = Field(ge=20, description="stand-in radiographs to generate")
    longest_side: int = Field(ge=64, le=2048, description="pixels of the stand-ins")
    metadata: str | None = Field(
        description="a real dataset.csv: stand-ins take its file names, patients and labels "
        "(a patient-grouped, label-stratified sample), and real radiographs in the images/ "
        "folder beside it are used where sampled or included",
    )


class DownloadParams(StrictModel):
    article_id: int
    api_url: str = Field(description="figshare's public API")
    files: dict[str, int] = Field(
        description="figshare file ids, confirmed through the API before downloading",
    )
    images: int | None = Field(
        ge=1,
        description="a subset of about this many images (whole patients, stratified by "
        "label) read out of the remote archives with range requests; null: every image",
    )
    include: list[str] = Field(description="image stems always fetched")
    synthetic: SyntheticParams

    @model_validator(mode="after")
    def _needs_metadata_and_archives(self) -> DownloadParams:
        if METADATA_FILE not in self.files or not archive_names(self.files):
            raise ValueError(f"files must name {METADATA_FILE} and images_part*.zip archives")
        return self


class IntensityParams(StrictModel):
    method: Literal["range", "percentile"] = Field(
        description="range: each image's min..max; percentile: low..high window"
    )
    low: float = Field(ge=0, lt=50)
    high: float = Field(gt=50, le=100)


class PreprocessParams(StrictModel):
    size: int = Field(ge=32, le=1024, description="side of the prepared square images")
    intensity: IntensityParams
    validation_fraction: float = Field(gt=0, lt=0.5)
    test_fraction: float = Field(gt=0, lt=0.5)
    max_bad_fraction: float = Field(
        ge=0, le=1,
        description="fail when more of the requested images are missing or unreadable",
    )
    workers: int | None = Field(ge=1, description="threads preparing images (all CPUs)")


class TuneParams(TunerParams):
    objective: Objective
    imagenet_weights: dict[str, str] = Field(
        description="backbone -> path or URL of its ImageNet weights without the top "
        "(keras.applications cannot download them offline); a backbone without weights "
        "trains from scratch, with a loud warning",
    )

    @property
    def architectures(self) -> list[str]:
        """Every architecture the search space can choose (``small_cnn`` when unset)."""
        spec = self.search_space.get("architecture", "small_cnn")
        return [str(value) for value in (spec.values if isinstance(spec, ChoiceSpec)
                                         else [spec])]

    @model_validator(mode="after")
    def _known_architectures(self) -> TuneParams:
        unknown = sorted(set(self.imagenet_weights) - set(BACKBONE_NAMES))
        if unknown:
            raise ValueError(f"imagenet_weights: unknown backbones {unknown} "
                             f"(known: {sorted(BACKBONE_NAMES)})")
        unknown = sorted(set(self.architectures) - set(ARCHITECTURES))
        if unknown:
            raise ValueError(f"search_space.architecture: unknown {unknown} "
                             f"(known: {list(ARCHITECTURES)})")
        if "batch_size" in self.search_space:
            raise ValueError("batches are streamed from disk at tune.batch_size: "
                             "batch_size cannot be searched")
        return self


class AugmentationParams(StrictModel):
    rotation: float = Field(ge=0, le=0.25, description="fraction of a full turn")
    contrast: float = Field(ge=0, le=0.9)
    zoom: float = Field(ge=0, le=0.5)
    horizontal_flip: bool = Field(description="wrists come in both lateralities")


class GrazTrainParams(TrainParams):
    augmentation: AugmentationParams | None


class EvaluateParams(StrictModel):
    min_sensitivity: float | None = Field(
        gt=0, le=1,
        description="threshold: the highest whose validation sensitivity reaches this; "
        "null: the validation ROC point maximising sensitivity + specificity (Youden)",
    )
    age_bands: list[float] = Field(min_length=2)


class ExplainParams(StrictModel):
    images_per_gallery: int = Field(ge=1, le=64)
    extra_images: list[str] = Field(
        description="image stems explained in any split (real cases)"
    )


class Params(StrictModel):
    download: DownloadParams
    preprocess: PreprocessParams
    tune: TuneParams
    train: GrazTrainParams
    evaluate: EvaluateParams
    explain: ExplainParams


EXPERIMENT = Experiment("grazpedwri_dx", Params)
