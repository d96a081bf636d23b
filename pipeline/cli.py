"""``python -m pipeline STAGE DATASET``: run one stage of one dataset (what dvc.yaml calls)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.paths import STAGES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("dataset", help="a dataset listed in params.yaml (mnist, ecg5000, ...)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from pipeline.runner import run_stage

    try:
        run_stage(args.stage, args.dataset, params_file=args.params)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
