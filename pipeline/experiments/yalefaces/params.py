"""The ``yalefaces`` section of ``params.yaml``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel
from pipeline.experiments.yalefaces.layout import IMAGE_SHAPE, SUBJECTS
from pipeline.ml.params import Objective, SearchSpace

Protocol = Literal["loo", "kfold", "two_subjects"]
Rule = Literal["sanger", "oja"]


class DownloadParams(StrictModel):
    url: str = Field(description="the original zip (its checksum is not known)")


class CropParams(StrictModel):
    top: int = Field(ge=0)
    bottom: int = Field(le=IMAGE_SHAPE[0])
    left: int = Field(ge=0)
    right: int = Field(le=IMAGE_SHAPE[1])

    @model_validator(mode="after")
    def _check_box(self) -> CropParams:
        if self.top >= self.bottom or self.left >= self.right:
            raise ValueError("the crop box needs top < bottom and left < right")
        return self


class FaceCropParams(StrictModel):
    """A square around the face OpenCV's pretrained detector finds in each image: it undoes
    the shifts and scale changes between photographs that a fixed box keeps."""

    face_margin: float = Field(ge=0.0, le=1.0, description="added on every side, as a "
                               "fraction of the detected box's width")
    size: int = Field(ge=8, le=IMAGE_SHAPE[0], description="side of the square crop in "
                      "pixels, before downsampling")


def _crop_form(value: Any) -> str:
    """Which crop a params value describes, so that its errors are that form's alone."""
    if isinstance(value, dict):
        return "FaceCropParams" if not value or value.keys() & {"face_margin", "size"} else (
            "CropParams")
    return type(value).__name__


Crop = Annotated[
    Annotated[CropParams, Tag("CropParams")] | Annotated[FaceCropParams, Tag("FaceCropParams")],
    Discriminator(_crop_form, custom_error_type="crop_form", custom_error_message=(
        "expected a fixed box {top, bottom, left, right}, a detected face {face_margin, size} "
        "or null")),
]


class PreprocessParams(StrictModel):
    crop: Crop | None = Field(
        description="a fixed box around the faces (rows top:bottom, columns left:right), a "
        "detected face ({face_margin, size}), or null for the whole image",
    )
    downsample: int = Field(ge=1, le=32, description="average over blocks of this size")
    lighting: Literal["none", "standardize", "equalize"] = Field(
        description="per image: standardize (zero mean, unit variance) or equalize "
        "(histogram equalisation)")
    protocols: list[Protocol] = Field(min_length=1)
    folds: int = Field(ge=2, le=11, description="blocks of the k-fold protocol; also the "
                       "blocks whose complements are the selection sets of every protocol")
    inner_folds: int = Field(ge=2, le=10, description="inner cross-validation folds of "
                             "every selection set")
    two_subjects: tuple[int, int] = Field(description="the two-subject task's subjects")
    repeats: int = Field(ge=1, le=10, description="independent repetitions of every "
                         "protocol's nested selection, each with its own blocks and inner folds "
                         "(seeds seed, seed + 1, ...); accuracies pool all their predictions")

    @model_validator(mode="after")
    def _check_subjects(self) -> PreprocessParams:
        first, second = self.two_subjects
        if first == second or not all(1 <= s <= SUBJECTS for s in self.two_subjects):
            raise ValueError(f"two_subjects needs two different subjects in 1..{SUBJECTS}")
        return self


class HebbianParams(StrictModel):
    """A neural PCA learned by a Hebbian rule (see :mod:`.neural_pca`)."""

    rule: Rule = Field(description="sanger: ordered components | oja: the subspace")
    components: int = Field(ge=1)
    iterations: int = Field(ge=1, description="full-batch Hebbian updates (at most)")
    step: float = Field(gt=0, le=1.5, description="step size, relative to the unit's "
                        "input power (<= 1 is stable)")
    tolerance: float = Field(ge=0, description="stop once the largest weight change of "
                             "an update falls below this")
    whiten: bool = Field(description="divide each unit's output by its standard deviation")


class TuneParams(StrictModel):
    """A random search scored on every selection set at once; every trial trains full-batch
    for ``epochs`` steps."""

    tuner: Literal["random_search"] = Field(
        description="candidates must not depend on scores (nested selection)")
    objective: Objective = Field(description="what ranks trials in KerasTuner's summary; each "
                                 "selection set keeps its own best by its own inner accuracy")
    max_trials: int = Field(ge=1)
    epochs: int = Field(ge=1, description="full-batch epochs of every network, in the "
                        "search and in training")
    neural_pca: HebbianParams
    search_space: SearchSpace = Field()

    @model_validator(mode="after")
    def _check_neural_pca(self) -> TuneParams:
        if self.neural_pca.rule != "sanger":
            raise ValueError("neural_pca.rule must be sanger: the network reads the leading "
                             "components, which only Sanger's rule orders")
        return self


class TrainParams(StrictModel):
    oja: HebbianParams = Field(
        description="Oja's subspace rule on all images, compared with PCA in evaluate",
    )
    mixed_precision: bool


class EvaluateParams(StrictModel):
    baseline_components: list[int] = Field(
        min_length=1, description="PCA sizes the baselines choose from")
    agreement_components: int = Field(ge=1, description="top-k subspace compared with PCA")


class ExplainParams(StrictModel):
    eigenfaces: int = Field(ge=1, le=40)
    reconstruction_components: list[int] = Field(min_length=1)
    faces: int = Field(ge=1, le=30, description="faces reconstructed and explained")


class Params(StrictModel):
    download: DownloadParams
    preprocess: PreprocessParams
    tune: TuneParams
    train: TrainParams
    evaluate: EvaluateParams
    explain: ExplainParams


EXPERIMENT = Experiment("yalefaces", Params)
