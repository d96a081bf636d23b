"""Which MLflow store a stage logs to, and opening it safely from several processes.

Store: ``$MLFLOW_TRACKING_URI``, else ``mlflow.tracking_uri`` in params, else the SQLite file
``mlflow.db`` at the root of the original repository (the caller passes it: ``dvc queue`` runs
experiments in temporary copies, and their runs belong in the same store). SQLite makes a
concurrent writer wait (MLflow sets a 20 s busy timeout); what it does not survive is two
processes creating the database tables or the experiment at once, so that is done under an
inter-process lock. A tracking server (on PostgreSQL) refuses the second of two concurrent
creations of the experiment instead; the loser then uses the winner's.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

EXPERIMENT = "pipeline"


def tracking_uri(configured: str | None, repository: Path) -> str:
    """``$MLFLOW_TRACKING_URI``, else ``configured`` (params), else ``<repository>/mlflow.db``."""
    return (
        os.environ.get("MLFLOW_TRACKING_URI")
        or configured
        or f"sqlite:///{repository / 'mlflow.db'}"
    )


def experiment_name() -> str:
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT


def _sqlite_file(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0]).resolve()


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Serialise the first use of a SQLite store (table creation, migrations) and experiment
    creation across processes: run concurrently, they fail ("table ... already exists").
    The lock file lives in the temp folder, so it never shows up in the repository."""
    database = _sqlite_file(uri)
    if database is None:
        yield
        return
    digest = hashlib.sha256(str(database).encode()).hexdigest()[:16]
    with FileLock(Path(tempfile.gettempdir()) / f"mlflow-store-{digest}.lock"):
        yield


def open_store(uri: str) -> tuple[MlflowClient, str]:
    """A client of the store (the first one in a process creates or migrates the tables) and
    the id of the pipeline's experiment, created if missing."""
    name = experiment_name()
    with _store_lock(uri):
        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return client, experiment.experiment_id
        database = _sqlite_file(uri)
        artifacts = (database.parent / "mlartifacts" / name).as_uri() if database else None
        try:
            return client, client.create_experiment(name, artifact_location=artifacts)
        except MlflowException as error:  # another process created it since we looked
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return client, client.get_experiment_by_name(name).experiment_id
