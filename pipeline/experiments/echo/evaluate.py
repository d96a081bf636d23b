"""evaluate@echo: every canceller, with its tuned setting, adapting over the test record.
Per segment (before and after the echo path changes): steady-state ERLE, samples to
converge within 3 dB of it, misadjustment and the misalignment of the identified path;
the ERLE curves and the identified paths go to files for the figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.echo.filters import run_filter
from pipeline.experiments.echo.layout import BEST_FILE, CURVES_FILE, FILTERS, PATHS_FILE
from pipeline.experiments.echo.params import EXPERIMENT
from pipeline.experiments.echo.performance import erle_db, summarise
from pipeline.experiments.echo.signals import load_record

CURVE_STEP = 50  # samples between the points of the ERLE curves kept
HEADLINE = ("before_erle_db", "after_erle_db", "before_samples_to_converge",
            "after_samples_to_converge")


def evaluate(ctx: StageContext) -> StageResult:
    settings = ctx.params.evaluate
    record = load_record(ctx.paths.raw, "test")
    best = json.loads((ctx.paths.tune / BEST_FILE).read_text())
    metrics, details = {}, {}
    curves = {"sample": np.arange(0, len(record.far_end), CURVE_STEP)}
    paths = {"tap": np.arange(record.paths.shape[1]), "true_before": record.paths[0],
             "true_after": record.paths[1]}
    for name in FILTERS:
        result = run_filter(name, best.get(name), record.far_end, record.microphone, settings)
        figures = summarise(record, result, window=settings.window,
                            steady_fraction=settings.steady_fraction)
        details |= {f"{name}_{key}": value for key, value in figures.items()}
        metrics |= {f"{name}_{key}": figures[key] for key in HEADLINE}
        curve = erle_db(record.microphone[:len(result.error)], result.error, settings.window)
        curves[name] = np.interp(curves["sample"], np.arange(len(curve)), curve,
                                 right=np.nan)  # a diverged filter's curve stops
        for segment, (_, stop) in record.segments().items():
            last = np.flatnonzero(result.snapshot_at < stop)[-1]
            paths[f"{name}_{segment}"] = pad(result.weights[last], len(paths["tap"]))
    frame = pd.DataFrame(curves)
    frame.to_csv(ctx.out / CURVES_FILE, index=False, float_format="%.4f")
    frame.to_csv(ctx.plots / CURVES_FILE, index=False, float_format="%.4f")
    pd.DataFrame(paths).to_csv(ctx.out / PATHS_FILE, index=False, float_format="%.8g")
    details["settings"] = best
    return StageResult(metrics, details)


def pad(weights: np.ndarray, length: int) -> np.ndarray:
    """``weights`` cut or zero-padded to the true path's length."""
    return np.pad(weights, (0, max(length - len(weights), 0)))[:length]


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
