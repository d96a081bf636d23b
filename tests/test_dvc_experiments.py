"""DVC experiments: `dvc exp run -S` reaches every param a user would change;
`dvc queue start -j 2` runs two experiments in parallel into the one MLflow store (SQLite),
and `-j 4` four at once into a tracking server on PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import dvc.api
import pytest
import yaml
from dvc_project import (
    QUEUED,
    QUEUED_ON_POSTGRES,
    REPO,
    QueueRun,
    environment,
    run,
    run_queue,
)
from mlflow import MlflowClient

from pipeline.tracking.store import EXPERIMENT


def leaves(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, dict) and node:
        return set().union(*(leaves(value, f"{prefix}{key}.") for key, value in node.items()))
    return {prefix.rstrip(".")}


def test_every_param_a_user_would_change_is_a_stage_dependency() -> None:
    """A key no stage declares would be changed by `dvc exp run -S` and rerun nothing."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    # where runs are logged changes no result; the optional experiments' params are
    # dependencies of their own pipeline file
    optional = {path.parent.name for path in (REPO / "optional").glob("*/dvc.yaml")}
    ignored = {"mlflow", *optional}
    wanted = {key for key in leaves(params) if key.split(".")[0] not in ignored}
    tracked = leaves(dvc.api.params_show(repo=str(REPO)))
    assert wanted - tracked == set()


def lookup(values: dict, dotted: str) -> Any:
    for key in dotted.split("."):
        values = values[key]
    return values


def assert_queue_logged(project: Path, queue: QueueRun, queued: dict[str, str],
                        client: MlflowClient, versions: int) -> None:
    """Every queued experiment succeeded and is complete in MLflow: a finished parent run
    with its params and metrics, the stages the change reran, none of them alone in time;
    ``versions`` model versions registered, the champion the best."""
    for name in queued:
        assert re.search(rf"{name}\s+.*Success", queue.status), (
            queue.status + run(["dvc", "queue", "logs", name], project))
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project))
    experiments = {revision["name"]: revision["data"]
                   for baseline in shown for experiment in baseline.get("experiments") or []
                   for revision in experiment["revs"]}
    parents = {
        run.data.tags["dvc_exp_name"]: run
        for run in client.search_runs(
            [client.get_experiment_by_name(EXPERIMENT).experiment_id],
            "tags.dvc_exp_name != ''",
        )
        if "mlflow.parentRunId" not in run.data.tags and run.data.tags["dvc_exp_name"] in queued
    }
    assert set(parents) == set(queued)
    for name, setting in queued.items():
        # dvc exp show: the -S value and every stage's metrics of the dataset
        data = experiments[name]
        key, value = setting.split("=")
        assert lookup(data["params"]["params.yaml"]["data"], key) == int(value)
        # the declared metrics: the test figures and the experiment's wall time
        assert set(data["metrics"]) == {"metrics/mnist/evaluate.json",
                                        "metrics/mnist/wall_time.json"}
        accuracy = data["metrics"]["metrics/mnist/evaluate.json"]["data"]["mnist"]["accuracy"]
        # MLflow: a finished parent with the stages the change reran, each complete
        parent = parents[name]
        assert parent.info.status == "FINISHED"
        assert parent.data.params[key] == value
        assert parent.data.metrics["mnist.evaluate.accuracy"] == pytest.approx(accuracy)
        children = {run.data.tags["stage"]: run for run in client.search_runs(
            [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")}
        assert set(children) == {"train", "evaluate", "explain"}
        assert all(run.info.status == "FINISHED" for run in children.values())
        history = client.get_metric_history(children["train"].info.run_id, "val_loss")
        assert len(history) == children["train"].data.metrics["epochs_run"]
        assert children["evaluate"].data.metrics["accuracy"] == pytest.approx(accuracy)
    # each experiment ran while another did (how many at once depends on the queue's start)
    runs = list(parents.values())
    for one in runs:
        assert any(other.info.start_time < one.info.end_time
                   and one.info.start_time < other.info.end_time
                   for other in runs if other is not one), f"{one.data.tags} ran alone"
    print("most experiments running at once:", max(
        sum(other.info.start_time <= one.info.start_time < other.info.end_time
            for other in runs) for one in runs))
    # all registered a model at about the same time; the champion is still the best one
    registered = client.search_model_versions("name='mnist-synthetic'")
    assert len(registered) == versions
    best = min(registered, key=lambda v: (float(v.tags["validation_value"]), int(v.version)))
    assert client.get_model_version_by_alias("mnist-synthetic", "champion").version == best.version


@pytest.mark.slow
def test_queue_runs_two_experiments_in_parallel_into_one_store(
    repro_project: Path, queued_experiments: QueueRun
) -> None:
    print(f"dvc queue start -j 2: both experiments done in {queued_experiments.seconds:.0f} s")
    client = MlflowClient(f"sqlite:///{repro_project / 'mlflow.db'}")
    # one version from the project's own `dvc repro`, one per experiment
    assert_queue_logged(repro_project, queued_experiments, QUEUED, client, versions=3)


@pytest.mark.slow
def test_four_queued_experiments_log_at_once_to_a_postgresql_server(
    repro_project: Path, postgres_tracking_server: str
) -> None:
    queue = run_queue(repro_project, QUEUED_ON_POSTGRES, 4,
                      environment(MLFLOW_TRACKING_URI=postgres_tracking_server))
    print(f"dvc queue start -j 4 on PostgreSQL: four experiments done in {queue.seconds:.0f} s")
    assert_queue_logged(repro_project, queue, QUEUED_ON_POSTGRES,
                        MlflowClient(postgres_tracking_server), versions=4)
