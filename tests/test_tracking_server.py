"""The tracking server on PostgreSQL (pipeline/tracking/server.py): a cluster of its own and
``mlflow server`` on 127.0.0.1 take runs, metrics and artifacts from several processes at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.slow

# as a stage opens the store: the four processes create the experiment at once
LOG_ONE_RUN = """
import os, sys, mlflow
from pipeline.tracking.store import open_store
_, experiment_id = open_store(os.environ["MLFLOW_TRACKING_URI"])
with mlflow.start_run(run_name=sys.argv[1], experiment_id=experiment_id):
    mlflow.log_param("writer", sys.argv[1])
    for step in range(20):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_text(sys.argv[1], "writer.txt")
"""


def test_four_processes_log_at_once(postgres_tracking_server: str) -> None:
    env = {"MLFLOW_TRACKING_URI": postgres_tracking_server, "PATH": "/usr/bin:/bin",
           "MLFLOW_EXPERIMENT_NAME": "server-test"}
    writers = [subprocess.Popen([sys.executable, "-c", LOG_ONE_RUN, f"writer{n}"], env=env)
               for n in range(4)]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0, 0, 0]
    client = MlflowClient(postgres_tracking_server)
    experiment = client.get_experiment_by_name("server-test")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.data.params["writer"] for run in runs) == [f"writer{n}" for n in range(4)]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert len(client.get_metric_history(run.info.run_id, "loss")) == 20
        text = client.download_artifacts(run.info.run_id, "writer.txt")
        assert Path(text).read_text() == run.data.params["writer"]
