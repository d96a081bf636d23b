"""End to end: `dvc repro` in a fresh git repository, synthetic data, tiny budgets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path) -> str:
    environment = {key: value for key, value in os.environ.items()
                   if key != "MLFLOW_TRACKING_URI"}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def tiny_params() -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["datasets"] = ["mnist"]
    params["data"]["synthetic"] = True
    mnist = params["mnist"]
    mnist["download"].update(synthetic_train_images=400, synthetic_test_images=100)
    mnist["tune"].update(tuner="random_search", max_trials=2, epochs=1, train_subset=200)
    mnist["tune"]["search_space"]["conv_blocks"] = {"values": [1, 2]}
    mnist["train"].update(epochs=2)
    mnist["explain"]["images_per_gallery"] = 4
    return params


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "pipeline", root / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A"], root)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], root)
    return root


def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines()
            if line.startswith("Running stage")}


def test_repro_runs_every_stage_and_marks_results_synthetic(project: Path) -> None:
    output = run(["dvc", "repro"], project)
    assert ran_stages(output) == {f"{stage}@mnist" for stage in
                                  ("download", "preprocess", "tune", "train", "evaluate",
                                   "explain")}
    evaluate = json.loads((project / "metrics/mnist/evaluate.json").read_text())
    assert evaluate["synthetic"] is True and 0 <= evaluate["accuracy"] <= 1
    for name in ("gradcam_correct_predicted_class.png", "gradcam_wrong_true_class.png"):
        assert (project / "data/explain/mnist" / name).stat().st_size > 1000
    assert (project / "metrics/mnist/evaluate_predictions.csv").exists()
    assert json.loads((project / "data/tune/mnist/best_hyperparameters.json").read_text())

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["mnist"], output_format="list")
    stages = {run.data.tags.get("stage") for run in runs}
    assert {"download", "preprocess", "tune", "train", "evaluate", "explain"} <= stages
    assert all(run.data.tags["synthetic"] == "true" for run in runs if "stage" in run.data.tags)
    trials = [run for run in runs if "trial_id" in run.data.tags]
    assert len(trials) == 2 and all("learning_rate" in run.data.params for run in trials)
    evaluate_run = next(run for run in runs if run.data.tags.get("stage") == "evaluate")
    assert evaluate_run.data.metrics["accuracy"] == pytest.approx(evaluate["accuracy"])


def test_second_repro_runs_nothing(project: Path) -> None:
    output = run(["dvc", "repro"], project)
    assert ran_stages(output) == set()
    assert "up to date" in output


def test_changing_a_train_param_reruns_train_evaluate_explain_only(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["mnist"]["train"]["epochs"] = 1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    output = run(["dvc", "repro"], project)
    assert ran_stages(output) == {"train@mnist", "evaluate@mnist", "explain@mnist"}
