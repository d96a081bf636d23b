"""The tracking server on PostgreSQL (pipeline/tracking/server.py): a cluster of its own and
``mlflow server`` on 127.0.0.1 take runs, metrics and artifacts from several processes at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dvc_project import free_port
from mlflow import MlflowClient

from pipeline.tracking.server import ServerError, postgres_cluster, tracking_server

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres_tracking_server(tmp_path: Path) -> Iterator[str]:
    """An MLflow tracking server on a PostgreSQL cluster of its own, both on 127.0.0.1."""
    # not under pytest's folders, which PostgreSQL's own user (when we are root) cannot enter
    cluster = Path(tempfile.mkdtemp(prefix="pipeline-postgres-"))
    try:
        with postgres_cluster(cluster, free_port()) as backend, tracking_server(
                backend, tmp_path / "artifacts", port=free_port(),
                log=tmp_path / "mlflow-server.log") as url:
            yield url
    except ServerError as error:
        pytest.skip(f"no PostgreSQL-backed tracking server here: {error}")
    finally:
        shutil.rmtree(cluster, ignore_errors=True)

LOG_ONE_RUN = """
import sys, mlflow
mlflow.set_experiment("server-test")
with mlflow.start_run(run_name=sys.argv[1]):
    mlflow.log_param("writer", sys.argv[1])
    for step in range(20):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_text(sys.argv[1], "writer.txt")
"""


def test_four_processes_log_at_once(postgres_tracking_server: str) -> None:
    env = {"MLFLOW_TRACKING_URI": postgres_tracking_server, "PATH": "/usr/bin:/bin"}
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
