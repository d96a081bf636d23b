"""A search spread over processes with KerasTuner's own protocol: the chief holds the oracle
and serves it over gRPC; workers, on this machine or others, ask it for trials, train them and
report back. KerasTuner's environment variables say who is who (``KERASTUNER_TUNER_ID``:
``chief`` or a worker's name; ``KERASTUNER_ORACLE_IP`` / ``_PORT``: the chief's address).

KerasTuner's own chief loop (``oracle_chief.start_server``) waits forever for a worker that
died in a trial, and its workers wait an hour for a chief that is late or gone. So the chief
here serves KerasTuner's servicer from a loop of its own that watches the workers it started
(a dead worker's trial is ended and runs again on another), and a worker gives up on a chief
it cannot reach within a bounded time. (Hand-written: KerasTuner has no hook for either.)
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import keras_tuner as kt
import mlflow
from keras_tuner.src import protos
from keras_tuner.src.distribute.oracle_chief import OracleServicer

from pipeline.core.context import StageContext
from pipeline.core.errors import PipelineError

log = logging.getLogger(__name__)

TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
WORKERS = "PIPELINE_TUNE_WORKERS"  # local worker processes; 0 or unset: no distribution
RUN_ID = "PIPELINE_TUNE_RUN_ID"  # the chief's tune run, which the workers' trials nest under
CHIEF_WAIT = "PIPELINE_TUNE_CHIEF_WAIT"  # seconds a worker waits for its chief (default 300)
CHIEF_LOST = "PIPELINE_TUNE_CHIEF_LOST"  # seconds a worker goes on without it (default 60)
WORKER_LOG = "{worker}.log"
POLL_SECONDS = 0.5
STOP_SECONDS = 10.0  # how long finished workers get to exit before they are killed


class WorkerFinished(Exception):
    """Raised in a worker when the chief has no trial left for it: the stage it runs has
    nothing more to do there (the chief writes the outputs)."""


def is_worker() -> bool:
    """Whether this process is a worker of a distributed search (KerasTuner's variables)."""
    return ORACLE_IP in os.environ and "chief" not in os.environ.get(TUNER_ID, "chief")


def local_workers() -> int:
    """``$PIPELINE_TUNE_WORKERS``: how many worker processes a tune stage starts as the
    chief of a distributed search (0 or unset: the search runs in the stage's process).
    An execution setting, like the mirror: see the README on what it changes."""
    value = os.environ.get(WORKERS, "").strip() or "0"
    if not value.isdigit():
        raise PipelineError(f"${WORKERS} must be a whole number of worker processes, "
                            f"not {value!r}")
    return int(value)


def _seconds(variable: str, default: float) -> float:
    value = os.environ.get(variable, "")
    try:
        return float(value) if value else default
    except ValueError:
        raise PipelineError(f"${variable} must be a number of seconds, not {value!r}") from None


def _chief_address() -> str:
    return f"{os.environ[ORACLE_IP]}:{os.environ.get(ORACLE_PORT, '')}"


@contextmanager
def _chief_watchdog(address: str, grace: float) -> Iterator[None]:
    """End this process when the chief has been unreachable for ``grace`` seconds (a worker
    must not outlive its chief); the MLflow run of the trial it was in is ended later as
    killed (:mod:`pipeline.tracking.abandoned`)."""
    stopped = threading.Event()
    channel = grpc.insecure_channel(address)

    def watch() -> None:
        while not stopped.wait(1.0):
            try:
                grpc.channel_ready_future(channel).result(timeout=grace)
            except grpc.FutureTimeoutError:
                if not stopped.is_set():
                    log.error("the tuning chief at %s has not answered for %.0f s: exiting",
                              address, grace)
                    os._exit(3)

    thread = threading.Thread(target=watch, name="chief-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        channel.close()


def run_worker(tuner: kt.Tuner, fit_arguments: Mapping[str, Any]) -> None:
    """Run trials for the chief until it has none left, then raise :class:`WorkerFinished`.
    Fails, naming the address, when no chief answers within ``$PIPELINE_TUNE_CHIEF_WAIT``."""
    address = _chief_address()
    wait = _seconds(CHIEF_WAIT, 300.0)
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=wait)
    except grpc.FutureTimeoutError:
        raise PipelineError(
            f"no tuning chief answered at {address} within {wait:.0f} s "
            f"(${ORACLE_IP}, ${ORACLE_PORT}; ${CHIEF_WAIT} sets the wait)") from None
    finally:
        channel.close()
    with _chief_watchdog(address, _seconds(CHIEF_LOST, 60.0)):
        tuner.search(**fit_arguments)
    raise WorkerFinished(os.environ[TUNER_ID])


@dataclass
class _Worker:
    name: str
    process: subprocess.Popen
    log_file: Path
    handled: bool = False

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _start_workers(count: int, command: Sequence[str], address: str, log_dir: Path,
                   environment: Mapping[str, str]) -> list[_Worker]:
    host, port = address.rsplit(":", 1)
    threads = str(max(1, (os.cpu_count() or 1) // count))  # the cores shared, not fought over
    workers = []
    for number in range(1, count + 1):
        name = f"worker{number}"
        log_file = log_dir / WORKER_LOG.format(worker=name)
        env = {**os.environ, **environment, TUNER_ID: name, ORACLE_IP: host, ORACLE_PORT: port,
               "TF_NUM_INTRAOP_THREADS": threads, "OMP_NUM_THREADS": threads}
        with log_file.open("w") as stream:
            process = subprocess.Popen(list(command), env=env, stdout=stream,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        workers.append(_Worker(name, process, log_file))
    return workers


def _stop_workers(workers: Sequence[_Worker]) -> None:
    """Give running workers ``STOP_SECONDS`` to exit, then kill them and their children."""
    deadline = time.monotonic() + STOP_SECONDS
    for worker in workers:
        with suppress(subprocess.TimeoutExpired):
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for worker in workers:
        if worker.process.poll() is None:
            log.warning("%s did not exit: killing it", worker.name)
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait()


def _end_trials_of_dead_workers(oracle: kt.Oracle, workers: Sequence[_Worker]) -> None:
    """A worker that exited while holding a trial: end that trial as invalid, so that the
    oracle hands it to another worker (``max_retries_per_trial``) or counts it failed."""
    for worker in workers:
        code = worker.process.poll()
        if code is None or worker.handled:
            continue
        worker.handled = True
        trial = oracle.ongoing_trials.get(worker.name)
        if trial is None:
            if code != 0:
                log.warning("%s exited with code %s between trials:\n%s", worker.name, code,
                            worker.log_tail())
            continue
        log.warning("%s died (exit code %s) in trial %s; the trial runs again on another "
                    "worker:\n%s", worker.name, code, trial.trial_id, worker.log_tail())
        trial.status = kt.engine.trial.TrialStatus.INVALID
        trial.message = f"{worker.name} died (exit code {code}) during the trial"
        oracle.end_trial(trial)
        oracle.tuner_ids.discard(worker.name)


def _log_finished_trials(oracle: kt.Oracle, reported: set[str]) -> None:
    for trial_id, trial in sorted(oracle.trials.items()):
        if trial_id not in reported and trial.status in ("COMPLETED", "FAILED"):
            reported.add(trial_id)
            score = "failed" if trial.score is None else f"{trial.score:.4f}"
            log.info("trial %s: %s %s (%d of %s done)", trial_id, oracle.objective.name, score,
                     len(reported), oracle.max_trials or "?")


def serve_search(tuner: kt.Tuner, *, workers: int, worker_command: Sequence[str],
                 log_dir: Path) -> None:
    """Be the chief of ``tuner``'s search: serve its oracle on ``$KERASTUNER_ORACLE_IP:PORT``
    (127.0.0.1 and a free port by default), start ``workers`` processes running
    ``worker_command`` (their logs in ``log_dir``; their trials nest under the active MLflow
    run), and return when every trial has ended. Workers on other hosts may join at the same
    address. Fails, with each worker's exit code and last log lines, when every local worker
    is gone before the search is done; no worker process is left running either way."""
    server = grpc.server(ThreadPoolExecutor(max_workers=workers + 2))
    servicer = OracleServicer(tuner.oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    bind = f"{os.environ.get(ORACLE_IP, '127.0.0.1')}:{os.environ.get(ORACLE_PORT, '0')}"
    try:
        port = server.add_insecure_port(bind)
    except RuntimeError as error:
        raise PipelineError(f"the tuning chief cannot listen on {bind}: {error}") from None
    host = bind.rsplit(":", 1)[0]
    address = f"{'127.0.0.1' if host in ('0.0.0.0', '[::]') else host}:{port}"
    tuner.oracle.verbose = 0  # the trials are logged here, one line each
    tuner.save()
    server.start()
    log.info("tuning chief at %s with %d local workers (logs in %s)", address, workers, log_dir)
    active = mlflow.active_run()
    if active:
        mlflow.set_tag("distributed_workers", str(workers))
    environment = {"MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
                   **({RUN_ID: active.info.run_id} if active else {})}
    log.info("workers on other hosts: %s=<name> %s=<this host> %s=%s %s=%s %s", TUNER_ID,
             ORACLE_IP, ORACLE_PORT, port, RUN_ID, environment.get(RUN_ID, ""),
             " ".join(worker_command))
    started = _start_workers(workers, worker_command, address, log_dir, environment)
    reported: set[str] = set()
    try:
        while not (servicer.stop_triggered and not tuner.oracle.ongoing_trials):
            _end_trials_of_dead_workers(tuner.oracle, started)
            _log_finished_trials(tuner.oracle, reported)
            if all(worker.handled for worker in started) and not tuner.oracle.ongoing_trials:
                raise PipelineError(
                    f"every tuning worker exited before the search ended "
                    f"({len(tuner.oracle.trials)} trials started):\n" + "\n".join(
                        f"{worker.name}: exit code {worker.process.returncode}; last lines:\n"
                        f"{worker.log_tail()}" for worker in started))
            time.sleep(POLL_SECONDS)
        _log_finished_trials(tuner.oracle, reported)
    finally:
        _stop_workers(started)  # while the server is up: finished workers are told to stop
        server.stop(grace=1).wait()


CONTEXT_FILE = "stage_context.pickle"
WORKER_MODULE = "pipeline.ml.tune_worker"


def worker_command(stage: StageContext, folder: Path) -> list[str]:
    """The command that runs ``stage`` as a worker: the stage's context is saved in
    ``folder`` (the search's own), and the worker runs the same stage function on it."""
    path = folder / CONTEXT_FILE
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(stage))
    return [sys.executable, "-m", WORKER_MODULE, "--context", str(path)]
