"""Runs whose process died: each run is tagged with the process that owns it, and a stage
that starts ends every RUNNING run of this host whose owner is gone (``KILLED``). A stage
stopped by a signal it can handle ends its own runs as ``KILLED`` on the way out; this covers
the ones that cannot be handled (``kill -9``, a machine that lost power)."""

from __future__ import annotations

import logging
import socket

import psutil
from mlflow import MlflowClient

log = logging.getLogger(__name__)

OWNER_TAG = "pipeline_owner"


def owner() -> str:
    """This process, as ``host:pid:start time`` (a pid alone is reused)."""
    process = psutil.Process()
    return f"{socket.gethostname()}:{process.pid}:{process.create_time():.2f}"


def _alive(tag: str) -> bool:
    _, pid, started = tag.rsplit(":", 2)
    try:
        return f"{psutil.Process(int(pid)).create_time():.2f}" == started
    except (psutil.NoSuchProcess, ValueError):
        return False


def end_abandoned_runs(client: MlflowClient, experiment_id: str) -> list[str]:
    """Mark ``KILLED`` every RUNNING run of this host whose owning process has ended; return
    their names."""
    host = socket.gethostname()
    ended = []
    for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'",
                                  max_results=5000):
        tag = run.data.tags.get(OWNER_TAG)
        if tag and tag.rsplit(":", 2)[0] == host and not _alive(tag):
            client.set_terminated(run.info.run_id, "KILLED")
            ended.append(run.info.run_name)
    if ended:
        log.warning("marked KILLED in MLflow, their processes having died: %s",
                    ", ".join(ended))
    return ended


def ending_status(error: BaseException) -> str:
    """How a run ends when ``error`` stops it: interrupted (Ctrl-C, a signal) or failed."""
    return "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
