"""MLflow: where runs go, and the tags that make every run findable.

Default store: the SQLite file ``mlflow.db`` at the repository root (absolute URI, so every
stage process and ``mlflow ui`` agree). ``$MLFLOW_TRACKING_URI`` wins over ``mlflow.tracking_uri``
in params so that a team can point any checkout at a shared server without editing params.
One MLflow experiment per dataset; one run per stage execution.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow

from pipeline.config import SharedParams


def tracking_uri(shared: SharedParams, root: Path) -> str:
    return (
        os.environ.get("MLFLOW_TRACKING_URI")
        or shared.mlflow.tracking_uri
        or f"sqlite:///{(root / 'mlflow.db').resolve()}"
    )


def git_commit(root: Path) -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def run_tags(dataset: str, stage: str, synthetic: bool, root: Path) -> dict[str, str]:
    tags = {
        "dataset": dataset,
        "stage": stage,
        "synthetic": str(synthetic).lower(),
        "git_commit": git_commit(root),
    }
    # Set by `dvc exp run` for the processes of an experiment.
    for env, tag in (("DVC_EXP_NAME", "dvc_exp_name"), ("DVC_EXP_BASELINE_REV", "dvc_baseline")):
        if os.environ.get(env):
            tags[tag] = os.environ[env]
    return tags


def _experiment_id(name: str, root: Path, uri: str) -> str:
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location = None
    if uri.startswith("sqlite:"):
        artifact_location = (root / "mlartifacts" / name).resolve().as_uri()
    return mlflow.create_experiment(name, artifact_location=artifact_location)


@contextmanager
def stage_run(
    dataset: str, stage: str, *, shared: SharedParams, root: Path, synthetic: bool
) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run for one stage of one dataset; the stage logs into it with mlflow's API."""
    uri = tracking_uri(shared, root)
    mlflow.set_tracking_uri(uri)
    experiment_id = _experiment_id(dataset, root, uri)
    mlflow.set_experiment(experiment_id=experiment_id)  # nested runs (trials) land here too
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"{stage}",
        tags=run_tags(dataset, stage, synthetic, root),
    ) as run:
        yield run


def log_flat_params(values: Mapping[str, Any], prefix: str = "") -> None:
    """Log a nested mapping of parameters as dotted MLflow params."""
    flat: dict[str, Any] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        else:
            flat[path] = node

    walk(values, prefix)
    mlflow.log_params({key: str(value)[:6000] for key, value in flat.items()})


def log_numeric_metrics(metrics: Mapping[str, Any], step: int | None = None) -> None:
    """Log the numeric entries of a metrics mapping (booleans and strings are skipped)."""
    numeric = {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    if numeric:
        mlflow.log_metrics(numeric, step=step)
