"""MLflow: where runs go, how they nest, and the tags that make every run findable.

One MLflow experiment (``pipeline``; ``$MLFLOW_EXPERIMENT_NAME`` names another) holds

* a **parent** run per pipeline execution: one ``dvc exp run`` experiment, one plain
  ``dvc repro``, or one stage run by hand. Each stage runs in a process of its own and finds
  its execution's parent by the tag ``pipeline_execution`` (only parents carry it), creating
  it when missing. The parent gathers every stage's params (``mnist.train.epochs``, as in
  ``dvc exp run -S``) and final metrics (``mnist.evaluate.accuracy``), so the runs table
  compares executions;
* a **child** run per stage and dataset (``train@mnist``), which the stage logs into;
* a **grandchild** run per tuning trial (:mod:`pipeline.tuning`).

Store: ``$MLFLOW_TRACKING_URI``, else ``mlflow.tracking_uri`` in params, else the SQLite file
``mlflow.db`` at the root of the DVC repository. ``dvc queue`` runs each experiment in a
temporary copy of the repository and sets ``$DVC_ROOT`` to the original, so queued runs land
in the same store as every other run. SQLite makes a concurrent writer wait (MLflow sets a
20 s busy timeout); what it does not survive is two processes creating the database tables or
the experiment at once, so that is done under an inter-process lock.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import psutil
import yaml
from filelock import FileLock
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from pipeline.config import SharedParams
from pipeline.paths import DatasetPaths

log = logging.getLogger(__name__)

EXPERIMENT = "pipeline"
EXECUTION_TAG = "pipeline_execution"
CHAMPION = "champion"
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "fish", "ksh"})


def store_root(root: Path) -> Path:
    """The repository whose store a stage logs to: the original one when DVC runs the stage
    in a temporary copy (``dvc queue``, ``dvc exp run --temp``)."""
    return Path(os.environ.get("DVC_ROOT") or root).resolve()


def tracking_uri(shared: SharedParams, root: Path) -> str:
    return (
        os.environ.get("MLFLOW_TRACKING_URI")
        or shared.mlflow.tracking_uri
        or f"sqlite:///{store_root(root) / 'mlflow.db'}"
    )


def experiment_name() -> str:
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT


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


def data_version(root: Path, dataset: str) -> str | None:
    """The hash ``dvc.lock`` records for the dataset's raw data (``download@<dataset>``)."""
    lock = root / "dvc.lock"
    if not lock.exists():
        return None
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    raw = DatasetPaths(root, dataset).raw.relative_to(root).as_posix()
    for out in stages.get(f"download@{dataset}", {}).get("outs", []):
        if out.get("path") == raw:
            return out.get("md5")
    return None


def _sqlite_file(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0]).resolve()


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Serialise the first use of a SQLite store (table creation, migrations) and experiment
    creation across processes: run concurrently, they fail ("table ... already exists").
    The lock file lives in the temp folder, so it never shows up in the repository."""
    database = _sqlite_file(uri)
    if database is None:
        yield
        return
    digest = hashlib.sha256(str(database).encode()).hexdigest()[:16]
    with FileLock(Path(tempfile.gettempdir()) / f"mlflow-store-{digest}.lock"):
        yield


def _open_store(uri: str) -> tuple[MlflowClient, str]:
    """A client of the store (the first one in a process creates or migrates the tables) and
    the id of the pipeline's experiment, created if missing."""
    name = experiment_name()
    with _store_lock(uri):
        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return client, experiment.experiment_id
        database = _sqlite_file(uri)
        artifacts = (database.parent / "mlartifacts" / name).as_uri() if database else None
        return client, client.create_experiment(name, artifact_location=artifacts)


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
    client: MlflowClient, parent_id: str, child_id: str, dataset: str, stage: str,
    shared: SharedParams,
) -> None:
    """Copy the child's params and final metrics, and the shared params, to the parent."""
    child = client.get_run(child_id).data
    present = client.get_run(parent_id).data.params
    params = {
        **_flatten(shared.model_dump(mode="json")),
        **{f"{dataset}.{key}": value for key, value in child.params.items()},
    }
    now = int(time.time() * 1000)
    metrics = [
        Metric(f"{dataset}.{stage}.{key}", value, now, 0) for key, value in child.metrics.items()
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
    dataset: str, stage: str, *, shared: SharedParams, root: Path, synthetic: bool
) -> Iterator[mlflow.ActiveRun]:
    """The child run of one stage of one dataset, under its execution's parent run; the stage
    logs into it with mlflow's API. The parent is marked running while a stage runs, failed
    when one fails, finished otherwise."""
    uri = tracking_uri(shared, root)
    mlflow.set_tracking_uri(uri)
    client, experiment_id = _open_store(uri)
    execution = execution_tags(root)
    parent = _parent_run(client, experiment_id, execution)
    parent_id = parent.info.run_id
    failed_before = parent.info.status == "FAILED"
    tags = {
        **execution,
        "dataset": dataset,
        "stage": stage,
        "synthetic": str(synthetic).lower(),
    }
    version = None if stage == "download" else data_version(root, dataset)  # not recorded yet
    if version:
        tags["data_version"] = version
        client.set_tag(parent_id, f"data_version.{dataset}", version)
    if synthetic or "synthetic" not in parent.data.tags:  # true once any stage is synthetic
        client.set_tag(parent_id, "synthetic", tags["synthetic"])
    if not failed_before:
        client.update_run(parent_id, status="RUNNING")
    with _environment("MLFLOW_EXPERIMENT_ID", experiment_id), mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"{stage}@{dataset}",
        parent_run_id=parent_id,
        tags=tags,
    ) as run:
        try:
            yield run
        except BaseException:
            client.set_terminated(parent_id, "FAILED")
            raise
    _gather_into_parent(client, parent_id, run.info.run_id, dataset, stage, shared)
    client.set_terminated(parent_id, "FAILED" if failed_before else "FINISHED")


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


# -- the model registry --------------------------------------------------------------------


def register_model(
    dataset: str,
    metric: str,
    value: float,
    *,
    greater_is_better: bool,
    synthetic: bool,
    artifact_path: str = "model",
) -> ModelVersion:
    """Register the active run's ``artifact_path`` as a new version of the dataset's model;
    the alias ``champion`` moves to it only if it beats the champion on ``metric`` (a
    validation metric). Models trained on synthetic data are ``<dataset>-synthetic``: they
    never compete with real ones."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("register_model needs an active MLflow run (the train stage's)")
    client = MlflowClient()
    name = f"{dataset}-synthetic" if synthetic else dataset
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(
        name,
        source=f"{run.info.artifact_uri}/{artifact_path}",
        run_id=run.info.run_id,
        tags={
            "validation_metric": metric,
            "validation_value": repr(float(value)),
        },
    )
    champion = _promote_champion(client, name, metric, greater_is_better)
    mlflow.set_tags(
        {"model_version": f"{name}/{version.version}",
         "champion": str(champion == str(version.version)).lower()}
    )
    log.info("registered %s version %s; champion: version %s", name, version.version, champion)
    return version


def _alias_version(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def _promote_champion(
    client: MlflowClient, name: str, metric: str, greater_is_better: bool
) -> str:
    """Point ``champion`` at the version that is best on ``metric`` (the earliest of equals, so
    the alias moves only on a strict improvement) and return it. After moving the alias it
    looks again: a version a parallel run registered meanwhile is compared too."""
    sign = 1.0 if greater_is_better else -1.0
    while True:
        versions = sorted(
            (v for v in client.search_model_versions(f"name='{name}'")
             if v.tags.get("validation_metric") == metric),
            key=lambda v: int(v.version),
        )
        best = versions[0]
        for candidate in versions[1:]:
            if sign * float(candidate.tags["validation_value"]) > sign * float(
                best.tags["validation_value"]
            ):
                best = candidate
        if _alias_version(client, name) == str(best.version):
            return str(best.version)
        client.set_registered_model_alias(name, CHAMPION, best.version)
