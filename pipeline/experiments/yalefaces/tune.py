"""tune@yalefaces: on every selection set, a neural PCA (Sanger's rule) is learned and the
candidate networks are scored by an inner grouped, stratified cross-validation inside the set.

The candidates are KerasTuner random-search draws, which depend on the seed only, never on
scores; each set then keeps its own best candidate, by its own inner score, so nothing about a
held-out image influences any choice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import keras_tuner as kt
import mlflow
import numpy as np
import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.yalefaces.bases import BASES_FILE, fit_set_basis, save_bases
from pipeline.experiments.yalefaces.networks import InnerTasks
from pipeline.experiments.yalefaces.params import EXPERIMENT
from pipeline.experiments.yalefaces.processed import ALL_IMAGES, Processed
from pipeline.experiments.yalefaces.selection import write_selection
from pipeline.ml.devices import device_scope
from pipeline.ml.tuning import TRIALS_FILE, LoggedTrials, search_workdir
from pipeline.tracking.runs import log_numeric_metrics


def tune(ctx: StageContext) -> StageResult:
    params = ctx.params.tune
    data = Processed.load(ctx.paths.processed)
    started = time.perf_counter()
    set_names = sorted(data.sets["selection_set"].unique())
    bases, histories = {}, []
    for name in set_names:
        members = data.members(name)["image"].to_numpy()
        seed = int(ctx.rng(f"neural-pca-{name}").integers(2**31))
        bases[name], history = fit_set_basis(data.features[members], params.neural_pca,
                                             seed=seed)
        histories.append(history.assign(selection_set=name))
    pca_seconds = time.perf_counter() - started
    inner = InnerTasks.build(data, bases, set_names)
    space = params.search_space

    def score(hp: kt.HyperParameters) -> dict[str, float]:
        with device_scope(False):
            log_probabilities = inner.fit_and_predict(hp, space, params.epochs)
        return inner_scores(log_probabilities, inner.y_validation, inner.set_names)

    probe = kt.HyperParameters()  # declares the whole space before the first trial
    inner.model(probe, space, list(range(len(inner.set_names))))
    workdir = search_workdir(ctx, params)
    tuner = _SetSelectionSearch(
        score, hyperparameters=probe, objective=params.objective.for_keras_tuner(),
        max_trials=params.max_trials, seed=ctx.seed, directory=str(workdir.parent),
        project_name=workdir.name, overwrite=False)
    tuner.search()
    trials = [trial for trial in tuner.oracle.trials.values()
              if trial.status == "COMPLETED"]
    selection = {name: best_for_set(trials, name) for name in set_names}
    write_selection(ctx.out, params.epochs, selection)
    pd.DataFrame([{"trial_id": trial.trial_id, **trial.hyperparameters.values,
                   **{metric: trial.metrics.get_last_value(metric)
                      for metric in trial.metrics.metrics}} for trial in trials]
                 ).to_csv(ctx.out / TRIALS_FILE, index=False)
    save_bases(ctx.out / BASES_FILE, bases)
    pd.concat(histories).to_csv(ctx.out / "neural_pca_history.csv", index=False)
    deployable = selection[ALL_IMAGES]["hyperparameters"]
    mlflow.log_params({f"best.{key}": value for key, value in deployable.items()})
    chosen = pd.DataFrame([entry["hyperparameters"] for entry in selection.values()])
    return StageResult(
        {"trials": len(trials), "all_inner_accuracy": selection[ALL_IMAGES]["inner_accuracy"]},
        {
            "selection_sets": len(set_names),
            "tasks_per_trial": len(inner.set_names),
            "distinct_choices": len(chosen.drop_duplicates()),
            **{f"all_{key}": value for key, value in deployable.items()},
        },
        {"neural_pca_seconds": round(pca_seconds, 1),
         "search_seconds": round(time.perf_counter() - started - pca_seconds, 1)},
    )


def inner_scores(log_probabilities: np.ndarray, y_validation: np.ndarray,
                 set_of_task: Sequence[str]) -> dict[str, float]:
    """Inner cross-validation accuracy and mean log loss per selection set, and pooled."""
    totals: dict[str, list[float]] = {}
    for task, name in enumerate(set_of_task):
        rows = np.flatnonzero(y_validation[:, task] >= 0)
        labels = y_validation[rows, task]
        scores = log_probabilities[rows, task]
        entry = totals.setdefault(name, [0.0, 0.0, 0.0])
        entry[0] += float((scores.argmax(axis=1) == labels).sum())
        entry[1] += float(-scores[np.arange(len(rows)), labels].sum())
        entry[2] += len(rows)
    result = {}
    for name, (correct, loss, count) in totals.items():
        result[f"{name}_accuracy"] = correct / count
        result[f"{name}_loss"] = loss / count
    pooled = np.sum(list(totals.values()), axis=0)
    result["val_accuracy"] = float(pooled[0] / pooled[2])
    result["val_loss"] = float(pooled[1] / pooled[2])
    return result


def best_for_set(trials: Sequence[kt.engine.trial.Trial], name: str) -> dict[str, Any]:
    """The trial with the best inner accuracy on selection set ``name`` (then the lower inner
    loss, then the earlier trial), by that set's own scores only."""
    def key(trial: kt.engine.trial.Trial) -> tuple[float, ...]:
        return (trial.metrics.get_last_value(f"{name}_accuracy"),
                -trial.metrics.get_last_value(f"{name}_loss"), -int(trial.trial_id))

    best = max(trials, key=key)
    return {
        "trial_id": best.trial_id,
        "hyperparameters": best.hyperparameters.values,
        "inner_accuracy": best.metrics.get_last_value(f"{name}_accuracy"),
        "inner_loss": best.metrics.get_last_value(f"{name}_loss"),
    }


class _ScoredRandomSearch(kt.RandomSearch):
    """KerasTuner's random search, every trial scored by ``score`` (which trains and scores
    every selection set's networks at once) instead of by fitting one model."""

    def __init__(self, score: Callable[[kt.HyperParameters], dict[str, float]],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._score = score

    def run_trial(self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any) -> dict[
            str, float]:
        scores = self._score(trial.hyperparameters)
        log_numeric_metrics(scores)
        return scores


class _SetSelectionSearch(LoggedTrials, _ScoredRandomSearch):
    """The scored random search, each trial a nested MLflow run and one log line.

    Random search draws candidates from its seed alone, so no score (and so no held-out
    image) decides what is tried. A trial returns each set's own inner accuracy and loss
    beside the pooled objective, which only ranks trials in KerasTuner's summary.
    """


if __name__ == "__main__":
    main(EXPERIMENT, "tune", tune)
