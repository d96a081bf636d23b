"""Shared test fixtures: repository paths and the offline dataset copies."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dvc_project import (
    QUEUED,
    QueueRun,
    commit,
    environment,
    free_port,
    init_project,
    run,
    run_queue,
    tiny_params,
)
from fakes.file_server import FileServer, running

from pipeline.tracking.server import ServerError, postgres_cluster, tracking_server

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets`` (real data); tests that need it skip when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip("../shared/datasets is not present")
    return SHARED_DATASETS


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throw-away MLflow SQLite store for the test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def repro_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic-MNIST project after one `dvc repro`, its results committed. Tests
    that share it only add to it (a remote, experiments, MLflow runs), never change it."""
    root = init_project(tmp_path_factory.mktemp("repro-project"), tiny_params())
    run(["dvc", "repro"], root)
    commit(root, "dvc repro")
    return root


@pytest.fixture(scope="session")
def queued_experiments(repro_project: Path) -> QueueRun:
    """The two experiments of ``QUEUED``, run by `dvc queue start -j 2` in ``repro_project``."""
    return run_queue(repro_project, QUEUED, 2, environment())


@pytest.fixture(scope="session")
def postgres_tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An MLflow tracking server on a PostgreSQL cluster of its own, both on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tracking-server")
    # not under pytest's folders, which PostgreSQL's own user (when we are root) cannot enter
    cluster = Path(tempfile.mkdtemp(prefix="pipeline-postgres-"))
    try:
        with postgres_cluster(cluster, free_port()) as backend, tracking_server(
                backend, folder / "artifacts", port=free_port(),
                log=folder / "mlflow-server.log") as url:
            yield url
    except ServerError as error:
        pytest.skip(f"no PostgreSQL-backed tracking server here: {error}")
    finally:
        shutil.rmtree(cluster, ignore_errors=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FileServer]:
    """A file server on 127.0.0.1 that can misbehave on request (tests/fakes/file_server.py)."""
    with running(tmp_path / "served") as httpd:
        yield httpd


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """Where a test's fetch puts its file."""
    return tmp_path / "raw"
