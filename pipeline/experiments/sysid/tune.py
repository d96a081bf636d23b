"""tune@sysid: KerasTuner over the NARX network's units and learning rate, for each system,
scored on its validation split (the report fixed 20 units and never compared)."""

from __future__ import annotations

import time

import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.sysid.layout import SYSTEMS
from pipeline.experiments.sysid.narx import build_narx
from pipeline.experiments.sysid.params import EXPERIMENT
from pipeline.ml.search_space import write_best
from pipeline.ml.split_files import load_split
from pipeline.ml.tuning import TRIALS_FILE, search, search_workdir
from pipeline.tracking.runs import nested_run


def tune(ctx: StageContext) -> StageResult:
    params = ctx.params.tune
    metrics, timings = {}, {}
    for system in SYSTEMS:
        x, y = load_split(ctx.paths.processed, f"{system}_train")
        started = time.perf_counter()
        with nested_run(f"search {system}", system=system):
            best, trials = search(
                lambda hp, x=x, y=y: build_narx(hp, params.search_space, x, y),
                params=params, train=(x, y),
                validation=load_split(ctx.paths.processed, f"{system}_validation"),
                workdir=search_workdir(ctx, params, part=system), seed=ctx.seed)
        folder = ctx.out / system
        folder.mkdir()
        write_best(folder, best)
        pd.DataFrame(trials).to_csv(folder / TRIALS_FILE, index=False)
        scores = [row["score"] for row in trials]
        metrics[f"{system}_best_val_loss"] = params.objective.best(scores)
        metrics[f"{system}_trials"] = len(trials)
        timings[f"{system}_search_seconds"] = round(time.perf_counter() - started, 1)
    return StageResult(metrics, timings=timings)


if __name__ == "__main__":
    main(EXPERIMENT, "tune", tune)
