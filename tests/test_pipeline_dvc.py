"""End to end: `dvc repro` in a fresh git repository, synthetic data, tiny budgets."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from dvc_project import init_project, ran_stages, run, stage_metrics, tiny_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return init_project(tmp_path_factory.mktemp("project"), tiny_params())


def test_repro_runs_every_stage_and_marks_results_synthetic(project: Path) -> None:
    output = run(["dvc", "repro"], project)
    assert ran_stages(output) == {f"mnist-{stage}" for stage in
                                  ("download", "preprocess", "tune", "train", "evaluate",
                                   "explain")} | {"report"}
    evaluate = stage_metrics(project, "mnist", "evaluate")
    assert evaluate["synthetic"] is True and 0 <= evaluate["accuracy"] <= 1
    for name in ("gradcam_correct_predicted_class.png", "gradcam_wrong_true_class.png"):
        assert (project / "data/explain/mnist" / name).stat().st_size > 1000
    assert (project / "metrics/mnist/evaluate_predictions.csv").exists()
    assert json.loads((project / "data/tune/mnist/best_hyperparameters.json").read_text())
    rates = pd.read_csv(project / "metrics/mnist/train_history.csv")["learning_rate"]
    assert rates.is_monotonic_decreasing and rates.iloc[-1] == pytest.approx(0.0, abs=1e-9)

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["pipeline"], output_format="list")
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
    assert ran_stages(output) == {"mnist-train", "mnist-evaluate", "mnist-explain", "report"}


def test_an_identical_rerun_leaves_dvc_lock_unchanged(project: Path) -> None:
    """Every output is a function of code, data and params alone (models are saved without
    a timestamp, durations live outside DVC's outputs): forcing every stage to run again
    writes the same bytes, so dvc.lock does not change."""
    run(["dvc", "repro"], project)
    before = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    output = run(["dvc", "repro", "--force"], project)
    assert "mnist-train" in ran_stages(output)
    after = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    assert {name: stage for name, stage in after.items() if before[name] != stage} == {}
