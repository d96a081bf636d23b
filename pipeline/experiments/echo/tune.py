"""tune@echo: each filter's step (LMS, NLMS) or forgetting factor (RLS) chosen on the tuning
record, never the test record, by its mean ERLE over the record."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.errors import ParamsError
from pipeline.core.outputs import write_json_atomic
from pipeline.core.runner import main
from pipeline.experiments.echo.filters import run_filter
from pipeline.experiments.echo.layout import BEST_FILE, CANDIDATES_FILE, TUNED
from pipeline.experiments.echo.params import EXPERIMENT
from pipeline.experiments.echo.performance import erle_db
from pipeline.experiments.echo.signals import load_record


def tune(ctx: StageContext) -> StageResult:
    record = load_record(ctx.paths.raw, "tuning")
    settings = ctx.params.evaluate
    grids = {"lms": ctx.params.tune.lms_step_fractions, "nlms": ctx.params.tune.nlms_steps,
             "rls": ctx.params.tune.rls_forgetting}
    rows = []
    for name in TUNED:
        for value in grids[name]:
            try:
                result = run_filter(name, value, record.far_end, record.microphone, settings)
            except ParamsError as error:
                raise ParamsError(f"echo.tune: {name} candidate {value}: {error}") from None
            # a diverged candidate scores over the samples before it went, and is never best
            score = float(np.mean(erle_db(record.microphone[:len(result.error)],
                                          result.error, settings.window)))
            rows.append({"filter": name, "value": value, "mean_erle_db": score,
                         "diverged": result.diverged_at is not None})
    table = pd.DataFrame(rows)
    table.to_csv(ctx.out / CANDIDATES_FILE, index=False)
    best = {}
    for name in TUNED:
        usable = table[(table["filter"] == name) & ~table["diverged"]]
        if usable.empty:
            raise ParamsError(f"echo.tune: every {name} candidate diverged on the tuning "
                              f"record ({grids[name]}): give smaller values")
        best[name] = float(usable.loc[usable["mean_erle_db"].idxmax(), "value"])
    write_json_atomic(ctx.out / BEST_FILE, best)
    return StageResult({f"best_{name}": value for name, value in best.items()},
                       {"candidates": len(table)})


if __name__ == "__main__":
    main(EXPERIMENT, "tune", tune)
