"""MLflow runs: how they nest, and the tags that make every run findable.

One MLflow experiment (``pipeline``; ``$MLFLOW_EXPERIMENT_NAME`` names another) holds

* a **parent** run per pipeline execution: one ``dvc exp run`` experiment, one plain
  ``dvc repro``, or one stage run by hand. Each stage runs in a process of its own and finds
  its execution's parent by the tag ``pipeline_execution`` (only parents carry it), creating
  it when missing. The parent gathers every stage's params (``mnist.train.epochs``, as in
  ``dvc exp run -S``) and final metrics (``mnist.evaluate.accuracy``), so the runs table
  compares executions;
* a **child** run per stage and experiment (``train@mnist``), which the stage logs into;
* a **grandchild** run per tuning trial (:func:`trial_run`).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import psutil
import yaml
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run

from pipeline.tracking.abandoned import OWNER_TAG, end_abandoned_runs, ending_status, owner
from pipeline.tracking.store import open_store

EXECUTION_TAG = "pipeline_execution"
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "fish", "ksh"})


def git_commit(root: Path) -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def execution_key() -> str:
    """What the stage processes of one pipeline execution share: the DVC process running
    them (its pid and start time) and the DVC experiment's name. Outside DVC, the stage's own
    process: a stage run by hand is an execution of its own."""
    process = psutil.Process()
    if os.environ.get("DVC_STAGE"):  # DVC runs the command through a shell, or execs it
        process = next((p for p in process.parents() if p.name() not in _SHELLS), process)
    experiment = os.environ.get("DVC_EXP_NAME", "")
    return f"{experiment}:{process.pid}:{process.create_time():.2f}"


def execution_tags(root: Path) -> dict[str, str]:
    tags = {"git_commit": git_commit(root)}
    # Set by `dvc exp run` for the processes of an experiment.
    for env, tag in (("DVC_EXP_NAME", "dvc_exp_name"), ("DVC_EXP_BASELINE_REV", "dvc_baseline")):
        if os.environ.get(env):
            tags[tag] = os.environ[env]
    return tags


def data_version(root: Path, experiment: str, raw: Path) -> str | None:
    """The hash ``dvc.lock`` records for the experiment's raw data ``raw``, the output of
    its stage ``<experiment>-download``."""
    lock = root / "dvc.lock"
    if not lock.exists():
        return None
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    raw_path = raw.relative_to(root).as_posix()
    for out in stages.get(f"{experiment}-download", {}).get("outs", []):
        if out.get("path") == raw_path:
            return out.get("md5")
    return None


def _parent_run(client: MlflowClient, experiment_id: str, tags: Mapping[str, str]) -> Run:
    """This execution's parent run, found by its tag or created."""
    key = execution_key()
    found = client.search_runs(
        [experiment_id], f"tags.{EXECUTION_TAG} = '{key}'", max_results=1
    )
    if found:
        return found[0]
    name = tags.get("dvc_exp_name") or ("dvc repro" if os.environ.get("DVC_STAGE") else "by hand")
    return client.create_run(
        experiment_id,
        run_name=f"{name} @ {tags['git_commit'][:7]}",
        tags={EXECUTION_TAG: key, **tags},
    )


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested mapping as dotted keys, values as MLflow param strings."""
    flat: dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        else:
            flat[path] = str(node)[:6000]

    walk(values, prefix)
    return flat


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _gather_into_parent(
    client: MlflowClient, parent_id: str, child_id: str, experiment: str, stage: str,
    shared: Mapping[str, Any],
) -> None:
    """Copy the child's params and final metrics, and the shared params, to the parent."""
    child = client.get_run(child_id).data
    present = client.get_run(parent_id).data.params
    params = {
        **_flatten(shared),
        **{f"{experiment}.{key}": value for key, value in child.params.items()},
    }
    now = int(time.time() * 1000)
    metrics = [
        Metric(f"{experiment}.{stage}.{key}", value, now, 0)
        for key, value in child.metrics.items()
    ]
    new = [Param(key, value) for key, value in params.items() if key not in present]
    for batch in _batches(new, 100):  # MLflow's limit per request
        client.log_batch(parent_id, params=batch)
    for batch in _batches(metrics, 1000):
        client.log_batch(parent_id, metrics=batch)


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``$name`` set to ``value`` inside the block only. For MLFLOW_EXPERIMENT_ID: nested runs
    (tuning trials) land in the stage's experiment, and unlike ``mlflow.set_experiment``
    nothing of it outlives the stage (a later store in the same process has other ids)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@contextmanager
def stage_run(
    experiment: str, stage: str, *, uri: str, root: Path, shared: Mapping[str, Any],
    synthetic: bool, code_version: str, data_version: str | None = None,
    simulated: bool = False,
) -> Iterator[mlflow.ActiveRun]:
    """The child run of one stage of one experiment in the store at ``uri``, under its
    execution's parent run; the stage logs into it with mlflow's API. ``shared`` (the shared
    params) and the child's params and metrics are gathered into the parent. The parent is
    marked running while a stage runs, failed (or killed) when one fails (or is killed),
    finished otherwise. Runs left RUNNING by processes that died are ended first."""
    mlflow.set_tracking_uri(uri)
    client, experiment_id = open_store(uri)
    end_abandoned_runs(client, experiment_id)
    execution = execution_tags(root)
    parent = _parent_run(client, experiment_id, execution)
    parent_id = parent.info.run_id
    failed_before = parent.info.status if parent.info.status in ("FAILED", "KILLED") else None
    tags = {
        **execution,
        "experiment": experiment,
        "stage": stage,
        "synthetic": str(synthetic).lower(),
        "code_version": code_version,
        OWNER_TAG: owner(),
    }
    if simulated:  # data generated from params by design (not a stand-in)
        tags["simulated"] = "true"
        client.set_tag(parent_id, f"simulated.{experiment}", "true")
    if data_version:
        tags["data_version"] = data_version
        client.set_tag(parent_id, f"data_version.{experiment}", data_version)
    if synthetic or "synthetic" not in parent.data.tags:  # true once any stage is synthetic
        client.set_tag(parent_id, "synthetic", tags["synthetic"])
    if not failed_before:
        client.update_run(parent_id, status="RUNNING")
    client.set_tag(parent_id, OWNER_TAG, tags[OWNER_TAG])
    with _environment("MLFLOW_EXPERIMENT_ID", experiment_id), _run_ended_by_outcome(
        experiment_id=experiment_id,
        run_name=f"{stage}@{experiment}",
        parent_run_id=parent_id,
        tags=tags,
    ) as run:
        try:
            yield run
        except BaseException as error:
            client.set_terminated(parent_id, ending_status(error))
            raise
    _gather_into_parent(client, parent_id, run.info.run_id, experiment, stage, shared)
    client.set_terminated(parent_id, failed_before or "FINISHED")


@contextmanager
def _run_ended_by_outcome(**start: Any) -> Iterator[mlflow.ActiveRun]:
    """``mlflow.start_run(**start)``, ended FINISHED, FAILED or (interrupted) KILLED."""
    run = mlflow.start_run(**start)
    try:
        yield run
    except BaseException as error:
        mlflow.end_run(ending_status(error))
        raise
    mlflow.end_run()


@contextmanager
def trial_run(trial_id: str, hyperparameters: Mapping[str, Any],
              parent_run_id: str | None = None) -> Iterator[None]:
    """A nested MLflow run for one tuning trial, tagged and holding its hyperparameters;
    under ``parent_run_id`` when given (a worker process of a distributed search, which
    logs its trials under the chief's stage run), else under the active run."""
    tags = {"trial_id": trial_id, "tuner_id": os.environ.get("KERASTUNER_TUNER_ID", "tuner0")}
    with nested_run(f"trial-{trial_id}", parent_run_id=parent_run_id, **tags):
        mlflow.log_params(dict(hyperparameters))
        yield


@contextmanager
def nested_run(name: str, parent_run_id: str | None = None, **tags: str) -> Iterator[None]:
    """A run nested in the active one, or in ``parent_run_id`` (a stage's part: one search
    of several), ended by its outcome and owned like every run here, so a killed process's
    runs are ended later."""
    nesting = {"parent_run_id": parent_run_id} if parent_run_id else {"nested": True}
    with _run_ended_by_outcome(run_name=name, tags={**tags, OWNER_TAG: owner()}, **nesting):
        yield


def log_flat_params(values: Mapping[str, Any], prefix: str = "") -> None:
    """Log a nested mapping of parameters as dotted MLflow params."""
    mlflow.log_params(_flatten(values, prefix))


def log_numeric_metrics(metrics: Mapping[str, Any], step: int | None = None) -> None:
    """Log the numeric entries of a metrics mapping (booleans and strings are skipped)."""
    numeric = {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    if numeric:
        mlflow.log_metrics(numeric, step=step)


def log_outputs(folder: Path, stage: str) -> None:
    """Every file a stage wrote, as artifacts of its run under ``<stage>/``."""
    mlflow.log_artifacts(str(folder), artifact_path=stage)
