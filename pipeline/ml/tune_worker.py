"""``python -m pipeline.ml.tune_worker --context FILE [--root DIR]``: one worker of a
distributed search (:mod:`pipeline.ml.distributed`). It runs the stage the chief runs, on the
chief's saved context, and leaves when the chief has no trial left; it writes no output.
(A module of its own: run as ``__main__``, :mod:`pipeline.ml.distributed` would be imported
twice, and its :class:`WorkerFinished` would be two classes.)"""

from __future__ import annotations

import argparse
import importlib
import pickle
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pipeline.core.context import StageContext
from pipeline.core.errors import PipelineError
from pipeline.core.paths import ExperimentPaths
from pipeline.core.reproducibility import seed_everything
from pipeline.ml.distributed import CONTEXT_FILE, WORKER_MODULE, WorkerFinished
from pipeline.tracking.console import configure_console


def main(argv: Sequence[str] | None = None) -> int:
    """Run a stage's search as a worker (KerasTuner's variables say which chief); 0 when the
    chief said there was nothing left, 2 on an error. ``--root``: this host's checkout, when
    it is not where the chief's is (the same commit, its data pulled from the DVC remote)."""
    parser = argparse.ArgumentParser(prog=f"python -m {WORKER_MODULE}", description=__doc__)
    parser.add_argument("--context", type=Path, required=True,
                        help=f"the {CONTEXT_FILE} in the chief's search folder")
    parser.add_argument("--root", type=Path, help="this host's checkout (default: the chief's)")
    args = parser.parse_args(argv)
    configure_console()
    stage: StageContext = pickle.loads(args.context.read_bytes())
    if args.root:
        stage = replace(stage, paths=ExperimentPaths(args.root.resolve(), stage.experiment))
    module = importlib.import_module(f"pipeline.experiments.{stage.experiment}.{stage.stage}")
    seed_everything(stage.seed)
    with tempfile.TemporaryDirectory() as scratch:  # a worker writes no output of its own
        try:
            getattr(module, stage.stage)(replace(stage, out=Path(scratch), plots=Path(scratch)))
        except WorkerFinished:
            return 0
        except PipelineError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(f"error: {stage.stage}@{stage.experiment} ended without a search to work for",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
