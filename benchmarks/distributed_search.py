"""Wall time and result of one experiment's default search in one process, and distributed
over 1 and 2 local workers (``PIPELINE_TUNE_WORKERS``), side by side in one run.

Each search runs the real tune stage (``python -m pipeline tune <experiment>``) in a scratch
project holding a copy of this checkout's raw and preprocessed data, so nothing of the
checkout changes; MLflow logs to a scratch SQLite file.

    dvc repro mnist-preprocess && python benchmarks/distributed_search.py mnist --workers 0 1 2

Prints, per setting, the tune stage's wall time, its best validation score and the best
hyperparameters, and the time ratios against one worker.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.core.paths import ExperimentPaths


def run_search(checkout: Path, experiment: str, workers: int, scratch: Path) -> dict:
    root = scratch / f"workers-{workers}"
    source, target = ExperimentPaths(checkout, experiment), ExperimentPaths(root, experiment)
    for folder in ("raw", "processed"):
        shutil.copytree(getattr(source, folder), getattr(target, folder))
    shutil.copy(checkout / "params.yaml", root / "params.yaml")
    env = {**os.environ, "PIPELINE_TUNE_WORKERS": str(workers),
           "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pipeline", "tune", experiment], cwd=root,
                            env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"the search with {workers} workers failed:\n{result.stderr[-3000:]}")
    metrics = json.loads(target.metrics_file("tune").read_text())[experiment]
    best = json.loads((target.stage_dir("tune") / "best_hyperparameters.json").read_text())
    return {"workers": workers, "seconds": round(seconds, 1), **metrics, "best": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", nargs="?", default="mnist")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2],
                        help="0: the search in the stage's own process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        rows = [run_search(Path.cwd(), args.experiment, workers, Path(scratch))
                for workers in args.workers]
    one = next((row["seconds"] for row in rows if row["workers"] == 1), None)
    for row in rows:
        ratio = f"  ({one / row['seconds']:.2f}x one worker's speed)" if one else ""
        score = {key: value for key, value in row.items()
                 if key not in ("workers", "seconds", "best", "synthetic")}
        print(f"workers {row['workers']}: {row['seconds']:7.1f} s{ratio}  {score}\n"
              f"    best: {row['best']}")


if __name__ == "__main__":
    main()
