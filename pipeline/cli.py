"""``python -m pipeline STAGE EXPERIMENT``: run one stage of one experiment by name (what
``python -m pipeline.experiments.<name>.<stage>`` does, which is what dvc.yaml calls);
``python -m pipeline report``: write the HTML report (as ``python -m pipeline.report``)."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from pipeline.core.context import Metrics
from pipeline.core.errors import ParamsError, PipelineError
from pipeline.core.params import experiment_names
from pipeline.core.paths import STAGES
from pipeline.core.runner import run_stage as run_experiment_stage
from pipeline.tracking.console import configure_console


def run_stage(stage: str, experiment: str, *, params_file: Path = Path("params.yaml"),
              root: Path | None = None) -> Metrics:
    """Run ``stage`` of the experiment named ``experiment``."""
    if experiment not in experiment_names():
        raise ParamsError(f"unknown experiment {experiment!r} "
                          f"(experiments: {', '.join(experiment_names())})")
    if stage not in STAGES:
        raise ParamsError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
    module = importlib.import_module(f"pipeline.experiments.{experiment}.{stage}")
    return run_experiment_stage(module.EXPERIMENT, stage, getattr(module, stage),
                                params_file=params_file, root=root)


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in STAGES:
        command = commands.add_parser(stage, parents=[common],
                                      help=f"run the {stage} stage of one experiment")
        command.add_argument("experiment", help=", ".join(experiment_names()))
    report = commands.add_parser("report", parents=[common],
                                 help="write a static HTML report of the workspace")
    report.add_argument("experiments", nargs="*", help="default: every experiment with results")
    report.add_argument("--out", type=Path, default=Path("reports/report.html"))
    args = parser.parse_args(argv)
    if args.command == "report":
        from pipeline.report import report as html_report

        return html_report.main([*args.experiments, "--params", str(args.params),
                                 "--out", str(args.out)])
    configure_console()
    try:
        run_stage(args.command, args.experiment, params_file=args.params)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
