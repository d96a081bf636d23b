"""``python -m pipeline STAGE DATASET``: run one stage of one dataset (what dvc.yaml calls);
``python -m pipeline report``: write the HTML report of the workspace."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.paths import STAGES

DEFAULT_REPORT = Path("reports/report.html")


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in STAGES:
        command = commands.add_parser(
            stage, parents=[common], help=f"run the {stage} stage of one dataset"
        )
        command.add_argument(
            "dataset", help="a dataset listed in params.yaml (mnist, ecg5000, ...)"
        )
    report = commands.add_parser(
        "report", parents=[common], help="write a static HTML report of the workspace"
    )
    report.add_argument("--out", type=Path, default=DEFAULT_REPORT)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "report":
            from pipeline.report import write_report

            print(write_report(Path.cwd(), params_file=args.params, out=args.out))
        else:
            from pipeline.runner import run_stage

            run_stage(args.command, args.dataset, params_file=args.params)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
