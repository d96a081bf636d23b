"""A tune stage distributed with KerasTuner's own protocol on 127.0.0.1: a chief (the stage)
and two worker processes on synthetic MNIST. Every trial runs once and is logged once under
the tune run; a worker killed in a trial costs nothing but time; a worker gives up on a chief
that never answers, or that is gone; no process is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml
from dvc_project import environment, free_port, tiny_params
from mlflow import MlflowClient

from pipeline.cli import run_stage
from pipeline.core.context import StageContext
from pipeline.core.params import load_experiment_params, load_shared_params
from pipeline.core.paths import ExperimentPaths
from pipeline.experiments.mnist.params import EXPERIMENT
from pipeline.ml import distributed

pytestmark = pytest.mark.slow
TRIALS = 4


@pytest.fixture(autouse=True)
def two_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(distributed.WORKERS, "2")


def project(root: Path, **tune: object) -> Path:
    """A synthetic MNIST project at ``root``, downloaded and preprocessed; its params file."""
    params = tiny_params()
    params["mnist"]["tune"].update({"max_trials": TRIALS, **tune})
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    for stage in ("download", "preprocess"):
        run_stage(stage, "mnist", params_file=path, root=root)
    return path


def workers_of(process: psutil.Process) -> list[psutil.Process]:
    return [child for child in process.children(recursive=True)
            if distributed.WORKER_MODULE in " ".join(child.cmdline())]


def trial_runs(client: MlflowClient) -> list:
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    return [run for run in client.search_runs(experiments) if "trial_id" in run.data.tags]


def tune_run_id(client: MlflowClient) -> str:
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    (run,) = client.search_runs(experiments, "attributes.run_name = 'tune@mnist'")
    return run.info.run_id


def test_a_chief_and_two_workers_run_every_trial_once(tmp_path, tracking_uri) -> None:
    params = project(tmp_path)
    metrics = run_stage("tune", "mnist", params_file=params, root=tmp_path)

    out = ExperimentPaths(tmp_path, "mnist").stage_dir("tune")
    trials = pd.read_csv(out / "trials.csv")
    assert sorted(trials["trial_id"]) == list(range(TRIALS))
    assert set(trials["status"]) == {"COMPLETED"}
    assert (out / "best_hyperparameters.json").exists()
    assert metrics["trials"] == TRIALS
    client = MlflowClient(tracking_uri)
    runs = trial_runs(client)
    assert sorted(int(run.data.tags["trial_id"]) for run in runs) == list(range(TRIALS))
    assert {run.data.tags["mlflow.parentRunId"] for run in runs} == {tune_run_id(client)}
    assert {run.data.tags["tuner_id"] for run in runs} <= {"worker1", "worker2"}
    assert all(run.info.status == "FINISHED" and "val_accuracy" in run.data.metrics
               for run in runs)
    assert not workers_of(psutil.Process())


def test_a_worker_killed_in_a_trial_costs_the_search_nothing(tmp_path, tracking_uri) -> None:
    params = project(tmp_path, max_trials=6)
    client = MlflowClient(tracking_uri)
    killed: list[str] = []

    def kill_a_worker_in_its_trial() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            running = [run for run in trial_runs(client) if run.info.status == "RUNNING"]
            for run in running:
                worker = next((process for process in workers_of(psutil.Process())
                               if process.environ().get(distributed.TUNER_ID)
                               == run.data.tags["tuner_id"]), None)
                if worker is not None:
                    worker.send_signal(signal.SIGKILL)
                    killed.append(run.data.tags["trial_id"])
                    return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_a_worker_in_its_trial)
    killer.start()
    run_stage("tune", "mnist", params_file=params, root=tmp_path)
    killer.join()

    assert killed, "no worker was caught in a trial"
    trials = pd.read_csv(ExperimentPaths(tmp_path, "mnist").stage_dir("tune") / "trials.csv")
    assert len(trials) == 6 and set(trials["status"]) == {"COMPLETED"}
    # the killed trial ran again, on the other worker, and finished there
    again = [run for run in trial_runs(client) if run.data.tags["trial_id"] == killed[0]]
    assert "FINISHED" in {run.info.status for run in again}
    assert not workers_of(psutil.Process())


def test_a_worker_without_a_chief_fails_in_bounded_time(tmp_path, tracking_uri) -> None:
    params = project(tmp_path)
    stage_context = tmp_path / "context"
    paths = ExperimentPaths(tmp_path, "mnist")
    context = StageContext("mnist", "tune", load_shared_params(params),
                           load_experiment_params(params, "mnist", EXPERIMENT.params), paths,
                           tmp_path, tmp_path)
    command = distributed.worker_command(context, stage_context)
    port = free_port()
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment(
        **{distributed.TUNER_ID: "worker1", distributed.ORACLE_IP: "127.0.0.1",
           distributed.ORACLE_PORT: str(port), distributed.CHIEF_WAIT: "3"}))
    assert result.returncode == 2
    assert f"no tuning chief answered at 127.0.0.1:{port} within 3 s" in result.stderr
    assert time.monotonic() - started < 90


def test_workers_leave_when_their_chief_is_killed(tmp_path, tracking_uri) -> None:
    params = project(tmp_path, max_trials=20)
    chief = subprocess.Popen(
        [sys.executable, "-m", "pipeline.experiments.mnist.tune", "--params", str(params)],
        cwd=tmp_path, env=environment(**{"MLFLOW_TRACKING_URI": tracking_uri,
                                         distributed.CHIEF_LOST: "5",
                                         distributed.CHIEF_WAIT: "10"}),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = MlflowClient(tracking_uri)
    try:
        deadline = time.monotonic() + 300
        while not trial_runs(client) and time.monotonic() < deadline:
            time.sleep(0.5)
        workers = workers_of(psutil.Process(chief.pid))
        assert len(workers) == 2 and trial_runs(client)
    finally:
        os.kill(chief.pid, signal.SIGKILL)
        chief.wait()
    _, alive = psutil.wait_procs(workers, timeout=60)
    for process in alive:
        process.kill()
    assert not alive, "workers outlived their chief"
