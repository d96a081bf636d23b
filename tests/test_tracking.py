"""MLflow run structure, tags, the champion alias and concurrent writers, on real SQLite stores."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from dvc_project import REPO, stage_metrics
from mlflow import MlflowClient

from pipeline.core.params import load_shared_params
from pipeline.tracking import models, runs
from pipeline.tracking import store as tracking_store

SHARED = load_shared_params(REPO / "params.yaml")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store for the module's in-process tests (creating one takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


@pytest.fixture
def experiment(store: str, request: pytest.FixtureRequest,
               monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """The store, with an MLflow experiment of the test's own (this process is one execution:
    a parent per experiment keeps the tests apart)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", request.node.name)
    return MlflowClient(store)


def runs_of(client: MlflowClient, experiment_name: str) -> list:
    experiment = client.get_experiment_by_name(experiment_name)
    return client.search_runs([experiment.experiment_id])


def stage_run(experiment: str, stage: str, root: Path, *, synthetic: bool = True):
    """As the stage runner opens one (the store from $MLFLOW_TRACKING_URI)."""
    return runs.stage_run(
        experiment, stage, uri=tracking_store.tracking_uri(None, root), root=root,
        shared=SHARED.model_dump(mode="json"), synthetic=synthetic, code_version="0" * 16,
        data_version=None if stage == "download" else runs.data_version(
            root, experiment, root / "data" / "raw" / experiment))


TINY_MODEL = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def register_trained(root: Path, dataset: str, value: float, *, synthetic: bool = True) -> str:
    """A train stage run that registers a (tiny) model; returns the champion's version."""
    with stage_run(dataset, "train", root, synthetic=synthetic):
        models.register_model(TINY_MODEL, dataset, metric="val_loss", value=value,
                              direction="min", example_input=np.zeros((2, 3), "float32"),
                              synthetic=synthetic)
    name = f"{dataset}-synthetic" if synthetic else dataset
    return str(MlflowClient().get_model_version_by_alias(name, models.CHAMPION).version)


def test_champion_moves_only_when_a_new_version_beats_it(experiment, tmp_path) -> None:
    dataset = "champion_test"
    champions = [register_trained(tmp_path, dataset, loss) for loss in (0.5, 0.7, 0.3, 0.3)]
    assert champions == ["1", "1", "3", "3"]
    # a real model never competes with synthetic ones
    assert register_trained(tmp_path, dataset, 0.9, synthetic=False) == "1"
    assert experiment.get_model_version_by_alias(f"{dataset}-synthetic", "champion").version == 3
    version = experiment.get_model_version(f"{dataset}-synthetic", "4")
    assert version.tags == {"validation_metric": "val_loss", "validation_value": "0.3",
                            "direction": "min"}
    train_run = experiment.get_run(version.run_id)
    assert train_run.data.tags["champion"] == "false"
    assert train_run.data.tags["model_version"] == f"{dataset}-synthetic/4"


def test_stages_of_one_execution_share_a_parent_that_gathers_them(experiment, tmp_path) -> None:
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"stages": {"mnist-download": {
        "outs": [{"path": "data/raw/mnist", "hash": "md5", "md5": "0123abcd.dir"}]}}}))
    for stage, accuracy in (("download", None), ("tune", 0.75)):
        with stage_run("mnist", stage, tmp_path):
            runs.log_flat_params({"train": {"epochs": 2}})
            runs.log_numeric_metrics({"accuracy": accuracy} if accuracy else {})
            with runs.trial_run("0", {"units": 8}):
                pass
    assert "MLFLOW_EXPERIMENT_ID" not in os.environ  # nothing outlives the stage
    found = runs_of(experiment, tracking_store.experiment_name())
    (parent,) = [run for run in found if "mlflow.parentRunId" not in run.data.tags]
    children = {run.data.tags["stage"]: run for run in found if "stage" in run.data.tags}
    trials = [run for run in found if run.info.run_name == "trial-0"]
    assert set(children) == {"download", "tune"}
    assert {run.data.tags["mlflow.parentRunId"] for run in trials} == {
        run.info.run_id for run in children.values()}
    assert all(run.data.tags["mlflow.parentRunId"] == parent.info.run_id
               for run in children.values())
    assert parent.info.status == "FINISHED"
    # the data version is what dvc.lock recorded; download runs before DVC records it
    assert children["tune"].data.tags["data_version"] == "0123abcd.dir"
    assert "data_version" not in children["download"].data.tags
    assert parent.data.tags["data_version.mnist"] == "0123abcd.dir"
    assert parent.data.tags["synthetic"] == "true"
    assert parent.data.metrics["mnist.tune.accuracy"] == 0.75
    assert parent.data.params["mnist.train.epochs"] == "2"
    assert parent.data.params["seed"] == "42"


def test_a_failing_stage_fails_its_parent(experiment, tmp_path) -> None:
    with pytest.raises(ValueError, match="boom"), stage_run("mnist", "train", tmp_path):
        raise ValueError("boom")
    with stage_run("mnist", "evaluate", tmp_path):
        pass
    found = runs_of(experiment, tracking_store.experiment_name())
    (parent,) = [run for run in found if "mlflow.parentRunId" not in run.data.tags]
    children = {run.info.run_name: run.info.status for run in found if run != parent}
    assert children == {"train@mnist": "FAILED", "evaluate@mnist": "FINISHED"}
    # a later stage of the same execution (dvc repro --keep-going) does not hide the failure
    assert parent.info.status == "FAILED"


WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import mlflow
    from pipeline.tracking import runs

    root, writers = Path(sys.argv[1]), int(sys.argv[2])
    (root / f"ready-{os.getpid()}").touch()
    while len(list(root.glob("ready-*"))) < writers:  # every writer starts at the same moment
        time.sleep(0.01)
    with runs.stage_run("mnist", "train", uri=os.environ["MLFLOW_TRACKING_URI"], root=root,
                        shared={"seed": 42}, synthetic=True, code_version="0"):
        for step in range(50):
            runs.log_numeric_metrics({"loss": 1.0 / (step + 1)}, step=step)
""")


@pytest.mark.slow
def test_parallel_stage_processes_on_a_new_sqlite_store(tmp_path) -> None:
    """What `dvc queue start -j N` does to a store: processes that start at the same moment
    create it, create the experiment and write their runs. Without the store lock the
    writers fail ("table ... already exists", alembic errors)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), "3"],
            env={**os.environ, "MLFLOW_TRACKING_URI": uri},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for _ in range(3)
    ]
    outputs = [writer.communicate(timeout=300)[0] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0, 0], "\n".join(outputs)[-4000:]
    client = MlflowClient(uri)
    found = runs_of(client, tracking_store.EXPERIMENT)
    children = [run for run in found if run.data.tags.get("stage") == "train"]
    assert len(children) == 3 and len(found) == 6  # each writer is an execution of its own
    for child in children:
        history = client.get_metric_history(child.info.run_id, "loss")
        assert [metric.step for metric in history] == list(range(50))


@pytest.mark.slow
def test_a_dvc_repro_is_one_parent_with_a_child_per_stage_and_trial_grandchildren(
    repro_project: Path,
) -> None:
    client = MlflowClient(f"sqlite:///{repro_project / 'mlflow.db'}")
    found = runs_of(client, tracking_store.EXPERIMENT)
    parents = [run for run in found if run.info.run_name.startswith("dvc repro @")]
    assert len(parents) == 1
    parent = parents[0]
    children = [run for run in found
                if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    stages = {run.data.tags["stage"]: run for run in children}
    assert sorted(stages) == sorted(
        ["download", "preprocess", "tune", "train", "evaluate", "explain"]
    )
    assert len(children) == len(stages)
    trials = [run for run in found
              if run.data.tags.get("mlflow.parentRunId") == stages["tune"].info.run_id]
    assert len(trials) == 2 and all("trial_id" in run.data.tags for run in trials)

    commit = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=repro_project,
                            capture_output=True, text=True, check=True).stdout.strip()
    lock = yaml.safe_load((repro_project / "dvc.lock").read_text())
    raw_version = lock["stages"]["mnist-download"]["outs"][0]["md5"]
    for stage, run in stages.items():
        tags = run.data.tags
        assert (tags["experiment"], tags["synthetic"], tags["git_commit"]) == (
            "mnist", "true", commit)
        assert len(tags["code_version"]) == 16
        assert tags.get("data_version") == (None if stage == "download" else raw_version)
    evaluate = stage_metrics(repro_project, "mnist", "evaluate")
    assert parent.data.metrics["mnist.evaluate.accuracy"] == pytest.approx(evaluate["accuracy"])
    assert parent.data.tags["data_version.mnist"] == raw_version
    assert stages["train"].data.tags["model_version"] == "mnist-synthetic/1"
