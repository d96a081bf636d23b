"""Hyperparameter search with KerasTuner, and the tune stage of a Keras classifier.

The experiment's model builder declares its space through
:func:`pipeline.ml.search_space.hyperparameter`. Each trial is a nested MLflow run with its
hyperparameters and per-epoch metrics (MLflow's Keras callback) and one log line. The tuner's
state lives in a folder keyed by everything the search depends on (the tune stage's code, its
params, the seed and the data): an interrupted search resumes, a changed one starts afresh.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import mlflow
import numpy as np
import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.errors import PipelineError
from pipeline.core.params import StrictModel
from pipeline.ml import distributed
from pipeline.ml.params import TunerParams
from pipeline.ml.search_space import write_best
from pipeline.ml.splits import stratified_subset
from pipeline.tracking.runs import trial_run

log = logging.getLogger(__name__)

TRIALS_FILE = "trials.csv"


class _SpaceHyperModel(kt.HyperModel):
    """Builds with the experiment's builder; uses ``batch_size`` from the space if declared."""

    def __init__(self, build: Callable[[kt.HyperParameters], keras.Model], batch_size: int):
        super().__init__()
        self._build = build
        self._batch_size = batch_size

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        return self._build(hp)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        kwargs["batch_size"] = hp.values.get("batch_size", self._batch_size)
        return model.fit(*args, **kwargs)


class LoggedTrials:
    """Mixin for a KerasTuner tuner: each trial is a nested MLflow run and one log line.
    ``trial_seed``: when set, each trial starts from ``trial_seed + trial number``, so that its
    result does not depend on which process ran the trials before it (a distributed search);
    ``parent_run_id``: the run the trial runs nest under when this process has none active."""

    trial_seed: int | None = None
    parent_run_id: str | None = None

    def on_trial_begin(self, trial: kt.engine.trial.Trial) -> None:
        self._trial_started = time.perf_counter()
        super().on_trial_begin(trial)  # type: ignore[misc]

    def run_trial(self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any) -> Any:
        if self.trial_seed is not None:
            keras.utils.set_random_seed(self.trial_seed + int(trial.trial_id))
        with trial_run(trial.trial_id, trial.hyperparameters.values,
                       parent_run_id=self.parent_run_id):
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), mlflow.keras.MlflowCallback()]
            return super().run_trial(trial, *args, **kwargs)  # type: ignore[misc]

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_end(trial)  # type: ignore[misc]
        done = self.oracle.get_trial(trial.trial_id)  # type: ignore[attr-defined]
        score = "failed" if done.score is None else f"{done.score:.4f}"
        log.info("trial %s: %s %s in %.0f s; %s", trial.trial_id,
                 self.oracle.objective.name, score,  # type: ignore[attr-defined]
                 time.perf_counter() - self._trial_started,
                 without_tuner_bookkeeping(trial.hyperparameters.values))


_TUNERS: dict[str, type[kt.Tuner]] = {
    "hyperband": kt.Hyperband,
    "random_search": kt.RandomSearch,
    "bayesian_optimization": kt.BayesianOptimization,
}


def _tuner_arguments(params: TunerParams) -> dict[str, Any]:
    if params.tuner == "hyperband":
        return {
            "max_epochs": params.max_epochs,
            "factor": params.factor,
            "hyperband_iterations": params.hyperband_iterations,
        }
    return {"max_trials": params.max_trials}


def without_tuner_bookkeeping(values: Mapping[str, Any]) -> dict[str, Any]:
    """Hyperband adds ``tuner/epochs`` and friends to each trial; they are not the model's."""
    return {key: value for key, value in values.items() if not key.startswith("tuner/")}


def folder_digest(folder: Path) -> str:
    """sha256 of every file's relative path and bytes under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as stream:
            while chunk := stream.read(2**22):
                digest.update(chunk)
    return digest.hexdigest()


def search_workdir(ctx: StageContext, params: StrictModel, part: str = "") -> Path:
    """The tuner's folder for this search: keyed by the tune stage's code, its params, the
    seed, synthetic mode, the bytes of the preprocessed data it reads, and ``part`` (which of
    a stage's several searches this is)."""
    key = hashlib.sha256("\0".join([
        ctx.code_fingerprint, params.model_dump_json(), str(ctx.seed), str(ctx.synthetic),
        folder_digest(ctx.paths.processed), part,
    ]).encode()).hexdigest()[:16]
    return ctx.paths.tuner_workdir(key)


def _tuner(build: Callable[[kt.HyperParameters], keras.Model], params: TunerParams,
           directory: Path, project: str, seed: int, **options: Any) -> kt.Tuner:
    base = _TUNERS[params.tuner]
    return type(f"Logged{base.__name__}", (LoggedTrials, base), {})(
        hypermodel=_SpaceHyperModel(build, params.batch_size),
        objective=params.objective.for_keras_tuner(),
        executions_per_trial=params.executions_per_trial,
        seed=seed,
        directory=str(directory),
        project_name=project,
        overwrite=False,
        **_tuner_arguments(params),
        **options,
    )


def search(
    build: Callable[[kt.HyperParameters], keras.Model],
    *,
    params: TunerParams,
    train: tuple[Any, Any],
    validation: tuple[Any, Any],
    workdir: Path,
    seed: int,
    class_weight: Mapping[int, float] | None = None,
    stage: StageContext | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Search the space ``build`` declares, scored on ``validation`` data only.

    Returns the best hyperparameter values and one row per trial (values, score, status).
    A space with nothing to search (every hyperparameter fixed) is not searched. With
    ``$PIPELINE_TUNE_WORKERS`` the search is distributed (:mod:`pipeline.ml.distributed`):
    this process is its chief and ``stage``, the stage running it, is what the workers run;
    in a worker this raises :class:`~pipeline.ml.distributed.WorkerFinished` when done.
    """
    probe = kt.HyperParameters()
    build(probe)
    if all(isinstance(item, kt.engine.hyperparameters.Fixed) for item in probe.space):
        log.info("search space has no free hyperparameter: nothing to search")
        return dict(probe.values), []
    workers = 0 if distributed.is_worker() else distributed.local_workers()
    if workers and stage is None:
        raise PipelineError(f"this stage's searches run in its own process only: unset "
                            f"${distributed.WORKERS}")
    stop_early = keras.callbacks.EarlyStopping(
        monitor=params.objective.name,
        patience=params.early_stopping_patience,
        mode=params.objective.direction,
    )
    fit_arguments: dict[str, Any] = {
        "x": train[0],
        "y": train[1],
        "validation_data": validation,
        "callbacks": [stop_early],
        "class_weight": dict(class_weight) if class_weight else None,
        "verbose": 0,
    }
    if params.tuner != "hyperband":
        fit_arguments["epochs"] = params.epochs
    if distributed.is_worker():
        worker = _tuner(build, params, workdir, os.environ[distributed.TUNER_ID], seed)
        worker.trial_seed, worker.parent_run_id = seed, os.environ.get(distributed.RUN_ID)
        distributed.run_worker(worker, fit_arguments)
    # a trial whose worker died runs once more on another
    options = {"max_retries_per_trial": 1} if workers else {}
    tuner = _tuner(build, params, workdir.parent, workdir.name, seed, **options)
    if tuner.oracle.trials:
        log.info("resuming the search in %s (%d trials done)", workdir, len(tuner.oracle.trials))
    if workers:
        assert stage is not None
        distributed.serve_search(tuner, workers=workers,
                                 worker_command=distributed.worker_command(stage, workdir),
                                 log_dir=workdir)
    else:
        tuner.search(**fit_arguments)
    # in trial order: KerasTuner's own order and its pick among equal scores change when a
    # finished search is reloaded, and the best must not
    ordered = sorted(tuner.oracle.trials.values(), key=lambda trial: int(trial.trial_id))
    completed = [trial for trial in ordered if trial.status == "COMPLETED"]
    if not completed:
        failures = [trial.message for trial in ordered if trial.message]
        raise PipelineError(
            f"every trial of the search in {workdir} failed; the first error:\n"
            + (failures[0] if failures else "(no message)")
        )
    winner = completed[params.objective.best_index([trial.score for trial in completed])]
    best = without_tuner_bookkeeping(winner.hyperparameters.values)
    trials = [
        {
            "trial_id": trial.trial_id,
            "status": trial.status,
            "score": trial.score,
            **without_tuner_bookkeeping(trial.hyperparameters.values),
        }
        for trial in ordered
    ]
    return best, trials


def tune_classifier(
    ctx: StageContext,
    build: Callable[[kt.HyperParameters], keras.Model],
    params: TunerParams,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[Any, Any],
    *,
    class_weight: Callable[[np.ndarray], Mapping[int, float] | None] | None = None,
    targets: Callable[[np.ndarray], Any] | None = None,
) -> StageResult:
    """The tune stage of a classifier on arrays: search on the training split (a stratified
    subset of it when ``params.train_subset`` is set) scored on validation, then write the
    best values and the trials to the stage's folder. A model that learns something other
    than the labels (an autoencoder) gives ``targets``: the fit targets of a subset's inputs."""
    x, y = train
    subset = stratified_subset(y, params.train_subset, ctx.seed)
    fit_targets = targets(x[subset]) if targets else y[subset]
    started = time.perf_counter()
    best, trials = search(
        build, params=params, train=(x[subset], fit_targets), validation=validation,
        workdir=search_workdir(ctx, params), seed=ctx.seed,
        class_weight=class_weight(y[subset]) if class_weight else None, stage=ctx,
    )
    result = finish_search(ctx, params, best, trials, {"tuned_on_samples": len(subset)})
    return StageResult(result.metrics, result.details,
                       {"search_seconds": round(time.perf_counter() - started, 1)})


def finish_search(ctx: StageContext, params: TunerParams, best: Mapping[str, Any],
                  trials: list[dict[str, Any]], extra: Mapping[str, Any]) -> StageResult:
    """Write a search's outcome (best values, trials table) and its figures."""
    write_best(ctx.out, best)
    pd.DataFrame(trials).to_csv(ctx.out / TRIALS_FILE, index=False)
    mlflow.log_params({f"best.{key}": value for key, value in best.items()})
    return StageResult(
        {"trials": len(trials),
         f"best_{params.objective.name}": params.objective.best(
             [row["score"] for row in trials])},
        dict(extra),
    )
