"""Running one stage of one experiment: the part that is the same for every stage.

Params are validated first, seeds set, an MLflow run opened; the stage writes into a staging
folder that replaces its output folder only when it succeeds; its outputs are logged to MLflow
once, here; its metrics are written last, atomically. A failed stage leaves no output that
looks complete.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from pipeline.core import interrupts
from pipeline.core.code import code_fingerprint
from pipeline.core.context import Experiment, Metrics, Stage, StageContext, StageResult
from pipeline.core.errors import ParamsError, PipelineError
from pipeline.core.outputs import record_timings, staged_output, write_json_atomic
from pipeline.core.params import load_experiment_params, load_shared_params
from pipeline.core.paths import STAGES, ExperimentPaths, original_root
from pipeline.core.reproducibility import seed_everything
from pipeline.tracking import console, runs
from pipeline.tracking.store import tracking_uri

log = logging.getLogger(__name__)

MIRROR_VARIABLE = "PIPELINE_MIRROR"
# stages whose outputs are results worth keeping beside the run; data stay in DVC alone
LOGGED_STAGES = frozenset({"tune", "train", "evaluate", "explain"})


def mirror_location(root: Path) -> str | None:
    """``$PIPELINE_MIRROR``: a folder (relative to the repository) or a URL prefix holding
    ``<experiment>/<file>``. An environment setting, not a param: where verified data came
    from is not part of a result, so it must not be part of ``dvc.lock``."""
    value = os.environ.get(MIRROR_VARIABLE) or None
    if value is None or urlparse(value).scheme in ("http", "https", "file"):
        return value
    return str((original_root(root) / value).resolve())


def run_stage(
    experiment: Experiment,
    stage: str,
    body: Stage,
    *,
    params_file: Path = Path("params.yaml"),
    root: Path | None = None,
) -> Metrics:
    """Run ``body`` as ``stage`` of ``experiment`` in the project at ``root`` (the current
    folder by default); returns the headline metrics it wrote to
    ``metrics/<experiment>/<stage>.json`` as ``{experiment: metrics}``: under the experiment's
    name, DVC's tables call them ``mnist.accuracy``, like the params (``mnist.train.epochs``)."""
    if stage not in STAGES:
        raise ParamsError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
    root = (root or Path.cwd()).resolve()
    params_file = params_file if params_file.is_absolute() else root / params_file
    shared = load_shared_params(params_file)
    params = load_experiment_params(params_file, experiment.name, experiment.params)
    paths = ExperimentPaths(root, experiment.name)
    if stage != "download" and not paths.raw.exists():
        raise PipelineError(
            f"{paths.raw} does not exist: run the download stage first "
            f"(`dvc repro {experiment.name}-download`)"
        )
    seed_everything(shared.seed)
    fingerprint = code_fingerprint(experiment.stage_module(stage))
    metrics_file = paths.metrics_file(stage)
    metrics_file.unlink(missing_ok=True)
    for stale in paths.metrics_dir.glob(f"{stage}_*"):  # its plot data
        stale.unlink()
    started = time.perf_counter()
    plots_staging = paths.metrics_dir / f".{stage}.plots.partial"
    with staged_output(paths.stage_dir(stage)) as out, staged_output(plots_staging) as plots:
        context = StageContext(experiment.name, stage, shared, params, paths, out, plots,
                               mirror=mirror_location(root), code_fingerprint=fingerprint,
                               simulated=experiment.simulated)
        with runs.stage_run(
            experiment.name, stage, uri=tracking_uri(shared.mlflow.tracking_uri,
                                                     original_root(root)),
            root=root, shared=shared.model_dump(mode="json"), synthetic=context.synthetic,
            simulated=experiment.simulated, code_version=fingerprint,
            data_version=None if stage == "download" else runs.data_version(
                root, experiment.name, paths.raw),  # download's is not recorded yet
        ):
            runs.log_flat_params(params.model_dump(mode="json"))
            result = body(context)
            result = result if isinstance(result, StageResult) else StageResult(result)
            metrics = {**result.metrics, "synthetic": context.synthetic,
                       **({"simulated": True} if experiment.simulated else {})}
            timings = {**result.timings, "seconds": round(time.perf_counter() - started, 2)}
            if result.details:
                write_json_atomic(out / paths.details_file(stage).name, result.details)
            runs.log_numeric_metrics({**result.details, **metrics})
            runs.log_numeric_metrics({f"{stage}_{name}": value for name, value in timings.items()})
            if stage in LOGGED_STAGES:
                runs.log_outputs(out, stage)
    for plot in sorted(plots_staging.iterdir()):
        os.replace(plot, paths.plot_file(stage, plot.name))
    plots_staging.rmdir()
    write_json_atomic(metrics_file, {experiment.name: metrics})
    total = record_timings(paths, stage, timings)
    log.info("%s@%s done in %.1f s (%s stages so far: %.0f s)", stage, experiment.name,
             timings["seconds"], experiment.name, total)
    return metrics


def main(experiment: Experiment, stage: str, body: Stage, argv: list[str] | None = None) -> None:
    """The command line of a stage module: ``python -m pipeline.experiments.<name>.<stage>``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {experiment.stage_module(stage)}",
        description=f"Run the {stage} stage of {experiment.name} (what dvc.yaml calls).")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    console.configure_console()
    interrupts.stop_on_signals()
    try:
        run_stage(experiment, stage, body, params_file=args.params)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None

