"""A stage that is killed leaves no run RUNNING: a signal it can handle ends its runs KILLED
on the way out, and one it cannot (kill -9) is cleaned up by the next stage that starts."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from dvc_project import REPO, environment, tiny_params
from mlflow import MlflowClient

pytestmark = pytest.mark.slow


def module_command(stage: str) -> list[str]:
    return [sys.executable, "-m", f"pipeline.experiments.mnist.{stage}"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Tiny synthetic MNIST, downloaded and preprocessed, with a search slow enough to be
    caught in the middle of a trial."""
    shutil.copytree(REPO / "pipeline", tmp_path / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    params = tiny_params()
    params["mnist"]["tune"].update(max_trials=3, epochs=500, early_stopping_patience=500)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for stage in ("download", "preprocess"):
        subprocess.run(module_command(stage), cwd=tmp_path, env=environment(), check=True,
                       capture_output=True)
    return tmp_path


def statuses(project: Path) -> dict[str, str]:
    """Run name -> status; the parent of the tune stage's run is ``parent of tune``."""
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pipeline")
    found = client.search_runs([experiment.experiment_id])
    result = {run.info.run_name: run.info.status for run in found}
    tune = next((run for run in found if run.info.run_name == "tune@mnist"), None)
    if tune is not None:
        result["parent of tune"] = client.get_run(
            tune.data.tags["mlflow.parentRunId"]).info.status
    return result


def tune_caught_in_a_trial(project: Path, timeout_seconds: float = 180) -> subprocess.Popen:
    process = subprocess.Popen(module_command("tune"), cwd=project, env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if (project / "mlflow.db").exists() and statuses(project).get("trial-0") == "RUNNING":
            return process
        assert process.poll() is None, "tune ended before a trial could be interrupted"
        time.sleep(0.5)
    process.kill()
    raise AssertionError("no trial started in time")


def test_a_terminated_stage_ends_its_runs_killed(project: Path) -> None:
    process = tune_caught_in_a_trial(project)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    runs = statuses(project)
    assert runs["tune@mnist"] == "KILLED" and runs["trial-0"] == "KILLED"
    assert runs["parent of tune"] == "KILLED"
    assert not (project / "data/tune/mnist").exists()  # nothing half-written looks complete


def test_runs_of_a_stage_killed_outright_are_ended_at_the_next_start(project: Path) -> None:
    process = tune_caught_in_a_trial(project)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert statuses(project)["tune@mnist"] == "RUNNING"  # nobody could say otherwise

    subprocess.run(module_command("preprocess"), cwd=project, env=environment(), check=True,
                   capture_output=True)
    runs = statuses(project)
    assert runs["tune@mnist"] == "KILLED" and runs["trial-0"] == "KILLED"
    assert runs["parent of tune"] == "KILLED"
    assert runs["preprocess@mnist"] == "FINISHED"
