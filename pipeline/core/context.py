"""What an experiment declares, and what each of its stages receives and returns.

An experiment is a folder ``pipeline/experiments/<name>/`` with a ``params.py`` declaring its
:class:`Experiment` and one module per stage (``download.py`` ... ``explain.py``). A stage is a
function ``(StageContext) -> Metrics | StageResult``; the stage runner
(:mod:`pipeline.core.runner`) does everything around it: params validation, seeding, the MLflow
run, the atomic output folder, artifact logging and the metrics files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.params import SharedParams, StrictModel
from pipeline.core.paths import ExperimentPaths

Metrics = dict[str, Any]


@dataclass(frozen=True)
class Experiment:
    """An experiment's name (its folder and its section in ``params.yaml``) and the model that
    validates that section."""

    name: str
    params: type[StrictModel]

    def stage_module(self, stage: str) -> str:
        """The module that runs ``stage`` (``python -m pipeline.experiments.mnist.train``)."""
        return f"pipeline.experiments.{self.name}.{stage}"


@dataclass(frozen=True)
class StageResult:
    """``metrics``: the headline figures (``metrics/<exp>/<stage>.json``, compared by
    ``dvc exp show``). ``details``: everything finer (per class, per condition), written to
    the stage's output folder as ``details.json`` for the report and MLflow. ``timings``:
    durations and throughputs, which differ between identical runs, so they stay out of
    everything DVC hashes (``metrics/<exp>/timings.csv`` and MLflow). Metrics and details must
    be the same for the same code, data and params."""

    metrics: Metrics
    details: Metrics = field(default_factory=dict)
    timings: Metrics = field(default_factory=dict)


@dataclass(frozen=True)
class StageContext:
    """Everything a stage needs. ``out`` is an empty staging folder that becomes the stage's
    output folder (``paths.stage_dir(stage)``) only if the stage finishes. ``plots`` is a
    staging folder for small plot data kept in git (DVC plots): a file ``history.csv`` written
    there by train becomes ``metrics/<experiment>/train_history.csv``. ``mirror`` is the local
    copy of the sources to try first (``$PIPELINE_MIRROR``); ``code_fingerprint`` identifies
    the code this stage runs (see :mod:`pipeline.core.code`)."""

    experiment: str
    stage: str
    shared: SharedParams
    params: Any
    paths: ExperimentPaths
    out: Path
    plots: Path
    mirror: str | None = None
    code_fingerprint: str = ""

    @property
    def seed(self) -> int:
        return self.shared.seed

    @property
    def synthetic(self) -> bool:
        if self.stage == "download":
            return self.shared.data.synthetic
        return self.paths.is_synthetic

    def rng(self, purpose: str) -> np.random.Generator:
        """A generator seeded by the global seed and a purpose, so that two uses of
        randomness never share (or shift) each other's stream."""
        return np.random.default_rng([self.seed, *purpose.encode()])


Stage = Callable[[StageContext], "Metrics | StageResult"]
