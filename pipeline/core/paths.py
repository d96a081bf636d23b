"""Where every stage of every experiment reads and writes.

One folder per stage and experiment under ``data/`` (cached by DVC), one small metrics file per
stage and experiment under ``metrics/`` (kept in git). Nothing else in the code builds these
paths.
"""

from __future__ import annotations

import os
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
DETAILS_FILE = "details.json"


def original_root(root: Path) -> Path:
    """The repository a stage belongs to: the original one when DVC runs the stage in a
    temporary copy (``dvc queue``, ``dvc exp run --temp`` set ``$DVC_ROOT``)."""
    return Path(os.environ.get("DVC_ROOT") or root).resolve()


@dataclass(frozen=True)
class ExperimentPaths:
    root: Path
    experiment: str

    def stage_dir(self, stage: str) -> Path:
        """The output folder of ``stage`` (``data/models/mnist`` for train)."""
        return self.root / "data" / _STAGE_FOLDERS[stage] / self.experiment

    @property
    def metrics_dir(self) -> Path:
        return self.root / "metrics" / self.experiment

    def metrics_file(self, stage: str) -> Path:
        """The stage's headline figures (``{experiment: {name: value}}``, kept in git; those of
        train and evaluate are declared as DVC metrics)."""
        return self.metrics_dir / f"{stage}.json"

    @property
    def timings_file(self) -> Path:
        """How long each stage took when it last ran (git, not a DVC output: durations differ
        between identical runs, and ``dvc.lock`` must not)."""
        return self.metrics_dir / "timings.csv"

    @property
    def wall_time_file(self) -> Path:
        """The experiment's total stage time, ``{experiment: {"wall_seconds": ...}}``, shown by
        ``dvc exp show`` (a top-level metrics file of dvc.yaml, for the same reason)."""
        return self.metrics_dir / "wall_time.json"

    def details_file(self, stage: str) -> Path:
        """The stage's detailed figures (per class, per condition...), in its output folder."""
        return self.stage_dir(stage) / DETAILS_FILE

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

    @property
    def partial_downloads(self) -> Path:
        """Where interrupted downloads wait to be resumed by a later run (outside the stage's
        output, which a failed stage removes; each file keyed by its URL and verified once
        complete, so nothing stale is ever used)."""
        return self.root / ".cache" / "downloads" / self.experiment

    def tuner_workdir(self, key: str) -> Path:
        """KerasTuner's state for one search. It lives outside DVC's outputs so that an
        interrupted search resumes where it stopped; ``key`` covers the code, data and params
        of the search, so any change to them starts a fresh one."""
        return self.root / ".cache" / "tuning" / self.experiment / key

    @property
    def is_synthetic(self) -> bool:
        """Whether the raw data were generated (synthetic mode) rather than downloaded."""
        return (self.raw / SYNTHETIC_MARKER).exists()
