"""The registered champion is an MLflow model: `mlflow models serve` answers for it with no
code of ours, and predicts the classes the evaluate stage predicted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml
from dvc_project import REPO, environment, free_port, tiny_params

from pipeline.ml.split_files import load_split

pytestmark = pytest.mark.slow
SHARED = REPO.parent / "shared" / "datasets"
SERVED_IMAGES = 200


def run_stage_module(project: Path, stage: str, env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", f"pipeline.experiments.mnist.{stage}"],
                            cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def evaluated_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """MNIST through evaluate with a tiny budget: on the real data when ../shared/datasets is
    here (one training epoch on the 54,000 training images), else on synthetic digits.
    Returns the project and the registered model's name."""
    project = tmp_path_factory.mktemp("serving")
    shutil.copytree(REPO / "pipeline", project / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    params = tiny_params()
    env = environment()
    if SHARED.is_dir():
        params["data"]["synthetic"] = False
        params["mnist"]["tune"].update(max_trials=1, train_subset=1000)
        params["mnist"]["train"].update(epochs=1)
        env["PIPELINE_MIRROR"] = str(SHARED)
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    for stage in ("download", "preprocess", "tune", "train", "evaluate"):
        run_stage_module(project, stage, env)
    return project, "mnist" if SHARED.is_dir() else "mnist-synthetic"


def wait_until_up(url: str, server: subprocess.Popen, timeout_seconds: float = 180) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow models serve exited:\n{server.stdout.read()[-3000:]}")
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise AssertionError(f"mlflow models serve did not answer {url}/ping in {timeout_seconds} s")


def test_the_served_champion_predicts_what_evaluate_predicted(evaluated_project) -> None:
    project, name = evaluated_project
    port = free_port()
    env = {**environment(), "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m",
         f"models:/{name}@champion", "--env-manager", "local", "-h", "127.0.0.1",
         "-p", str(port)],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, server)
        x_test, _ = load_split(project / "data/processed/mnist", "test")
        response = requests.post(f"{url}/invocations",
                                 json={"inputs": x_test[:SERVED_IMAGES].tolist()}, timeout=120)
        assert response.status_code == 200, response.text[:2000]
        logits = np.asarray(response.json()["predictions"])
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    assert logits.shape == (SERVED_IMAGES, 10)
    evaluated = pd.read_csv(project / "metrics/mnist/evaluate_predictions.csv", dtype=str)
    assert logits.argmax(axis=1).astype(str).tolist() == (
        evaluated["predicted"].iloc[:SERVED_IMAGES].tolist())
