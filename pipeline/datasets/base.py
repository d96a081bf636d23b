"""What a dataset module provides, and what every stage receives.

A dataset is a subclass of :class:`Dataset` in ``pipeline/datasets/<name>.py`` exposed as the
module attribute ``DATASET``. It implements one method per stage; each takes a
:class:`StageContext` and returns the stage's metrics (a flat JSON-able mapping). The stage
runner (``pipeline.runner``) does everything around it: params validation, seeding, the MLflow
run, the atomic output folder and the metrics file.

``download`` is shared: a dataset declares its ``sources`` and how to ``write_synthetic``
stand-ins, and may check a mirror copy by content with ``content_matches``; a dataset whose
download does not fit that shape overrides ``download``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pipeline.config import SharedParams, StrictModel
from pipeline.download import Source, fetch
from pipeline.paths import SYNTHETIC_MARKER, DatasetPaths

Metrics = dict[str, Any]


@dataclass(frozen=True)
class StageContext:
    """Everything a stage needs. ``out`` is an empty staging folder that becomes the stage's
    output folder (``paths.stage_dir(stage)``) only if the stage finishes. ``plots`` is a
    staging folder for small plot data kept in git (DVC plots): a file ``history.csv`` written
    there by train becomes ``metrics/<dataset>/train_history.csv``."""

    dataset: str
    stage: str
    shared: SharedParams
    params: Any
    paths: DatasetPaths
    out: Path
    plots: Path

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


class Dataset(ABC):
    """One dataset's sources, preparation, model, evaluation and explanation."""

    name: ClassVar[str]
    Params: ClassVar[type[StrictModel]]

    # -- download -------------------------------------------------------------------------
    @abstractmethod
    def sources(self, params: Any) -> Sequence[Source]:
        """The files the download stage fetches."""

    @abstractmethod
    def write_synthetic(self, out: Path, params: Any, rng: np.random.Generator) -> None:
        """Write a small generated stand-in of every source, in the exact on-disk format."""

    def content_matches(self, source: Source, path: Path) -> bool:
        """Whether a mirror copy whose bytes differ from the official file holds the same
        content (decoded arrays, pixels...). Datasets without such a fingerprint say no."""
        return False

    def download(self, ctx: StageContext) -> Metrics:
        if ctx.synthetic:
            self.write_synthetic(ctx.out, ctx.params, ctx.rng("synthetic-data"))
            (ctx.out / SYNTHETIC_MARKER).write_text(
                "Generated stand-in data (data.synthetic: true). Not a real result.\n"
            )
        else:
            for source in self.sources(ctx.params):
                fetch(
                    source,
                    ctx.out,
                    mirror=ctx.shared.data.mirror,
                    content_check=lambda path, source=source: self.content_matches(source, path),
                )
        files = [path for path in ctx.out.rglob("*") if path.is_file()]
        return {"files": len(files), "bytes": sum(path.stat().st_size for path in files)}

    # -- the learning stages ----------------------------------------------------------------
    @abstractmethod
    def preprocess(self, ctx: StageContext) -> Metrics: ...

    @abstractmethod
    def tune(self, ctx: StageContext) -> Metrics: ...

    @abstractmethod
    def train(self, ctx: StageContext) -> Metrics: ...

    @abstractmethod
    def evaluate(self, ctx: StageContext) -> Metrics: ...

    @abstractmethod
    def explain(self, ctx: StageContext) -> Metrics: ...
