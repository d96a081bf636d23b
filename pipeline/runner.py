"""Running one stage of one dataset: the part that is the same for every stage and dataset.

Params are validated first, seeds set, an MLflow run opened; the stage writes into a staging
folder that replaces the stage's output folder only when the stage succeeds, and its metrics
are written last, atomically. A failed stage leaves no output that looks complete.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline import tracking
from pipeline.config import load_dataset_params, load_shared_params
from pipeline.datasets.base import Dataset, Metrics, StageContext
from pipeline.errors import ParamsError, PipelineError
from pipeline.paths import STAGES, DatasetPaths
from pipeline.reproducibility import seed_everything

log = logging.getLogger(__name__)


def load_dataset(name: str) -> Dataset:
    """The ``DATASET`` object of ``pipeline/datasets/<name>.py``."""
    try:
        module = importlib.import_module(f"pipeline.datasets.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"pipeline.datasets.{name}":
            raise
        raise ParamsError(
            f"unknown dataset {name!r}: no module pipeline/datasets/{name}.py"
        ) from None
    return module.DATASET


@contextmanager
def staged_output(final: Path) -> Iterator[Path]:
    """An empty folder beside ``final`` that replaces it only if the block succeeds."""
    staging = final.with_name(final.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)


def write_json_atomic(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(partial, path)


def run_stage(
    stage: str,
    dataset_name: str,
    *,
    params_file: Path = Path("params.yaml"),
    root: Path | None = None,
) -> Metrics:
    if stage not in STAGES:
        raise ParamsError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
    root = (root or Path.cwd()).resolve()
    params_file = (root / params_file) if not params_file.is_absolute() else params_file
    shared = load_shared_params(params_file)
    if dataset_name not in shared.datasets:
        raise ParamsError(
            f"{params_file}: datasets: {dataset_name!r} is not listed "
            f"(listed: {', '.join(shared.datasets)})"
        )
    dataset = load_dataset(dataset_name)
    params = load_dataset_params(params_file, dataset_name, dataset.Params)
    paths = DatasetPaths(root, dataset_name)
    if stage != "download" and not paths.raw.exists():
        raise PipelineError(
            f"{paths.raw} does not exist: run the download stage first "
            f"(`dvc repro download@{dataset_name}` or `python -m pipeline download {dataset_name}`)"
        )
    seed_everything(shared.seed)
    metrics_file = paths.metrics_file(stage)
    metrics_file.unlink(missing_ok=True)
    for stale in paths.metrics_dir.glob(f"{stage}_*"):
        stale.unlink()
    started = time.perf_counter()
    plots_staging = paths.metrics_dir / f".{stage}.plots.partial"
    with staged_output(paths.stage_dir(stage)) as out, staged_output(plots_staging) as plots:
        context = StageContext(dataset_name, stage, shared, params, paths, out, plots)
        with tracking.stage_run(
            dataset_name, stage, shared=shared, root=root, synthetic=context.synthetic
        ):
            tracking.log_flat_params(params.model_dump(mode="json"))
            metrics = getattr(dataset, stage)(context)
            metrics = {
                **metrics,
                "dataset": dataset_name,
                "stage": stage,
                "synthetic": context.synthetic,
                "wall_seconds": round(time.perf_counter() - started, 2),
            }
            tracking.log_numeric_metrics(metrics)
    for plot in sorted(plots_staging.iterdir()):
        os.replace(plot, paths.plot_file(stage, plot.name))
    plots_staging.rmdir()
    write_json_atomic(metrics_file, metrics)
    log.info("%s %s done in %.1f s", stage, dataset_name, metrics["wall_seconds"])
    return metrics
