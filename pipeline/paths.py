"""Where every stage of every dataset reads and writes.

One folder per stage and dataset under ``data/`` (cached by DVC), one small metrics file per
stage and dataset under ``metrics/`` (kept in git). Nothing else in the code builds these paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STAGES = ("download", "preprocess", "tune", "train", "evaluate", "explain")

_STAGE_FOLDERS = {
    "download": "raw",
    "preprocess": "processed",
    "tune": "tune",
    "train": "models",
    "evaluate": "evaluate",
    "explain": "explain",
}

SYNTHETIC_MARKER = "SYNTHETIC"


@dataclass(frozen=True)
class DatasetPaths:
    root: Path
    dataset: str

    def stage_dir(self, stage: str) -> Path:
        """The output folder of ``stage`` for this dataset (``data/models/mnist`` for train)."""
        return self.root / "data" / _STAGE_FOLDERS[stage] / self.dataset

    @property
    def metrics_dir(self) -> Path:
        return self.root / "metrics" / self.dataset

    def metrics_file(self, stage: str) -> Path:
        return self.metrics_dir / f"{stage}.json"

    def plot_file(self, stage: str, name: str) -> Path:
        """Small plot data of a stage, kept in git (``metrics/mnist/train_history.csv``)."""
        return self.metrics_dir / f"{stage}_{name}"

    @property
    def raw(self) -> Path:
        return self.stage_dir("download")

    @property
    def processed(self) -> Path:
        return self.stage_dir("preprocess")

    @property
    def tune(self) -> Path:
        return self.stage_dir("tune")

    @property
    def model(self) -> Path:
        return self.stage_dir("train")

    @property
    def evaluate(self) -> Path:
        return self.stage_dir("evaluate")

    @property
    def explain(self) -> Path:
        return self.stage_dir("explain")

    def tuner_workdir(self, config_hash: str) -> Path:
        """KerasTuner's state for one search configuration. It lives outside DVC's outputs so
        that an interrupted search resumes where it stopped; a changed configuration gets a
        fresh folder."""
        return self.root / ".cache" / "tuning" / self.dataset / config_hash

    @property
    def is_synthetic(self) -> bool:
        """Whether the raw data were generated (synthetic mode) rather than downloaded."""
        return (self.raw / SYNTHETIC_MARKER).exists()
