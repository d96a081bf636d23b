"""Helpers for tests that run the pipeline with DVC in a throw-away git repository: tiny
synthetic MNIST params, the project copy (its dvc.yaml cut down to the experiments a test
runs), and running a command with the venv on PATH."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.core.outputs import read_stage_metrics
from pipeline.core.paths import ExperimentPaths

REPO = Path(__file__).resolve().parents[1]
GIT_USER = ["-c", "user.name=t", "-c", "user.email=t@t"]
# the experiments the `queued_experiments` fixture runs in parallel, by name
QUEUED = {"exp-epochs-3": "mnist.train.epochs=3", "exp-batch-64": "mnist.train.batch_size=64"}
# settings no other experiment of the shared project has: a stage whose code, params and
# inputs match an earlier run's is restored from DVC's run cache, and logs no MLflow run
QUEUED_ON_POSTGRES = {"exp-pg-epochs-1": "mnist.train.epochs=1",
                      "exp-pg-batch-48": "mnist.train.batch_size=48",
                      "exp-pg-batch-80": "mnist.train.batch_size=80",
                      "exp-pg-batch-112": "mnist.train.batch_size=112"}


@dataclass(frozen=True)
class QueueRun:
    seconds: float  # from `dvc queue start` until no experiment is queued or running
    status: str  # the last `dvc queue status`


def environment(**extra: str) -> dict[str, str]:
    """This process's environment with the venv first on PATH and no MLflow or mirror
    override, so the stages log to the project's own store and fetch only what a test says."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("MLFLOW_TRACKING_URI", "PIPELINE_MIRROR")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return {**env, **extra}


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env or environment(), capture_output=True, text=True
    )
    assert result.returncode == 0, (
        f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def run_queue(project: Path, queued: dict[str, str], jobs: int, env: dict[str, str]
              ) -> QueueRun:
    """Queue one experiment per ``name: setting`` and run them with `dvc queue start -j`."""
    for name, setting in queued.items():
        run(["dvc", "exp", "run", "--queue", "--name", name, "--set-param", setting], project,
            env)
    started = time.perf_counter()
    run(["dvc", "queue", "start", "--jobs", str(jobs)], project, env)
    try:
        while time.perf_counter() - started < 900:
            status = run(["dvc", "queue", "status"], project, env)
            if not any(state in status for state in ("Queued", "Running")):
                break
            time.sleep(3)
    finally:
        run(["dvc", "queue", "stop", "--kill"], project, env)
    return QueueRun(time.perf_counter() - started, status)


def write_params(folder: Path, changes: dict) -> Path:
    """The repository's params.yaml with dotted-key ``changes`` (``{"mnist.train.epochs": 1}``)
    applied, written to ``folder``."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        node = params
        for part in parents:
            node = node[part]
        node[key] = value
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def tiny_params() -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["synthetic"] = True
    mnist = params["mnist"]
    mnist["download"].update(synthetic_train_images=400, synthetic_test_images=100)
    mnist["tune"].update(tuner="random_search", max_trials=2, epochs=1, train_subset=200)
    mnist["tune"]["search_space"]["conv_blocks"] = {"values": [1, 2]}
    mnist["train"].update(epochs=2)
    mnist["explain"]["images_per_gallery"] = 4
    return params


def pipeline_of(experiments: list[str]) -> dict:
    """The repository's dvc.yaml with only the stages of ``experiments``, and a report of
    those."""
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    stages = {name: stage for name, stage in pipeline["stages"].items()
              if name.split("-")[0] in experiments}
    report = pipeline["stages"]["report"]
    stages["report"] = {
        **report,
        "cmd": " ".join(["python -m pipeline.report", *experiments]),
        "deps": [dep for dep in report["deps"] if not dep.startswith(("metrics/", "data/"))
                 or set(dep.split("/")) & set(experiments)],
    }
    metrics = [path for path in pipeline.get("metrics", [])
               if set(path.split("/")) & set(experiments)]
    plots = [plot for plot in pipeline.get("plots", [])
             if all(set(path.split("/")) & set(experiments)
                    for definition in plot.values() for path in definition["y"])]
    return {**pipeline, "stages": stages, "metrics": metrics, "plots": plots}


def init_project(root: Path, params: dict, experiments: list[str] | None = None) -> Path:
    """A git + DVC repository at ``root`` with the pipeline, ``params`` and the dvc.yaml of
    ``experiments`` (MNIST by default)."""
    shutil.copytree(REPO / "pipeline", root / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline_of(experiments or ["mnist"]),
                                                  sort_keys=False))
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "config", "core.analytics", "false"], root)  # as the repository's: offline
    commit(root, "init")
    return root


def commit(root: Path, message: str) -> None:
    run(["git", *GIT_USER, "add", "-A"], root)
    run(["git", *GIT_USER, "commit", "-qm", message], root)


def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines()
            if line.startswith("Running stage")}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stage_metrics(root: Path, experiment: str, stage: str) -> dict:
    """The headline metrics a stage wrote in the project at ``root``."""
    metrics = read_stage_metrics(ExperimentPaths(root, experiment), stage)
    assert metrics is not None, f"{experiment}-{stage} wrote no metrics in {root}"
    return metrics


def repository_params(experiment: str) -> object:
    """The experiment's validated section of the repository's params.yaml (models have no
    defaults: params.yaml is the one source)."""
    import importlib

    from pipeline.core.params import load_experiment_params

    model = importlib.import_module(f"pipeline.experiments.{experiment}.params").EXPERIMENT.params
    return load_experiment_params(REPO / "params.yaml", experiment, model)
