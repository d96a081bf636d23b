"""The ``clustering`` section of ``params.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.core.context import Experiment
from pipeline.core.params import StrictModel
from pipeline.ml.params import TrainParams

ColourMode = Literal["rgb", "grayscale"]


class PairParams(StrictModel):
    """Two classes of one dataset, to be told apart without their labels."""

    dataset: Literal["cifar10", "fruits360"]
    classes: list[str] = Field(min_length=2, max_length=2)


class DownloadParams(StrictModel):
    fruits360_synthetic_per_class: int = Field(
        ge=10, description="synthetic mode: stand-in images per class and split")


class PreprocessParams(StrictModel):
    validation_fraction: float = Field(gt=0, lt=0.5, description="of each pair's training "
                                       "images, stratified, for early stopping")


class AutoencoderParams(StrictModel):
    filters: list[int] = Field(min_length=1, max_length=4, description="one Conv2D/MaxPool "
                               "block per entry (mirrored in the decoder)")
    batch_norm: bool
    learning_rate: float = Field(gt=0, lt=1)


class ClusteringTrainParams(TrainParams):
    repetitions: int = Field(ge=1, le=10, description="seeds (autoencoder and K-means "
                             "initialisation): seed, seed + 1, ...")
    autoencoder: AutoencoderParams
    standardise_codes: bool = Field(description="centre and scale each two-number code "
                                    "(autoencoder and PCA) by the training codes before K-means")
    kmeans_restarts: int = Field(ge=1, description="K-means initialisations, the best kept")


class ExplainParams(StrictModel):
    points: int = Field(ge=10, description="test images per scatter (stratified)")


class Params(StrictModel):
    tasks: list[str] = Field(min_length=1, description="the pairs run, by name")
    pairs: dict[str, PairParams]
    colour_modes: list[ColourMode] = Field(min_length=1)
    download: DownloadParams
    preprocess: PreprocessParams
    train: ClusteringTrainParams
    explain: ExplainParams

    @model_validator(mode="after")
    def _check_tasks(self) -> Params:
        unknown = [task for task in self.tasks if task not in self.pairs]
        if unknown:
            raise ValueError(f"tasks {unknown} are not pairs (pairs: {', '.join(self.pairs)})")
        if len(set(self.tasks)) < len(self.tasks) or len(set(self.colour_modes)) < len(
                self.colour_modes):
            raise ValueError("tasks and colour_modes must not repeat an entry")
        return self

    def pairs_run(self) -> dict[str, PairParams]:
        """The pairs of ``tasks``, in that order."""
        return {task: self.pairs[task] for task in self.tasks}


EXPERIMENT = Experiment("clustering", Params)
