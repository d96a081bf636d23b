"""MNIST pipeline figures from one run: per-stage wall time, training throughput of the train
stage against a plain ``model.fit`` of the same model on in-memory arrays, and the time of a
no-op ``dvc repro``.

Run from the repository root after (or with ``--repro``, as part of) a pipeline run:

    python benchmarks/mnist_pipeline.py --repro    # dvc repro explain@mnist, then measure
    python benchmarks/mnist_pipeline.py            # measure the last run's outputs
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np

from pipeline.classifier import EpochTimer
from pipeline.config import load_dataset_params
from pipeline.datasets.mnist import DATASET, Params
from pipeline.paths import STAGES, DatasetPaths
from pipeline.reproducibility import seed_everything
from pipeline.splits import load_split
from pipeline.tuning import fixed_hyperparameters


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def plain_fit_images_per_second(paths: DatasetPaths, params: Params, epochs: int) -> float:
    """The train stage's model (same hyperparameters, augmentation, batch size) trained by a
    bare ``model.fit`` on the in-memory training split, no validation, no callbacks but a
    timer; the median epoch after the first (which includes tracing)."""
    seed_everything(0)
    x, y = load_split(paths.processed, "train")
    values = json.loads((paths.tune / "best_hyperparameters.json").read_text())
    model = DATASET.build_model(fixed_hyperparameters(values), params, augment=True)
    timer = EpochTimer()
    model.fit(x, y, batch_size=params.train.batch_size, epochs=epochs, callbacks=[timer],
              verbose=0)
    return len(x) / float(np.median(timer.seconds[1:] or timer.seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repro", action="store_true", help="run dvc repro explain@mnist first")
    parser.add_argument("--fit-epochs", type=int, default=3)
    args = parser.parse_args()
    root = Path.cwd()
    paths = DatasetPaths(root, "mnist")
    if args.repro:
        print(f"dvc repro explain@mnist: {timed(['dvc', 'repro', 'explain@mnist']):.1f} s")
    stages = {stage: json.loads(paths.metrics_file(stage).read_text()) for stage in STAGES}
    print("\nper-stage wall time (s, inside the stage process):")
    for stage, metrics in stages.items():
        print(f"  {stage:<11}{metrics['wall_seconds']:>9.1f}")
    print(f"  {'total':<11}{sum(m['wall_seconds'] for m in stages.values()):>9.1f}")

    params = load_dataset_params(root / "params.yaml", "mnist", Params)
    pipeline_rate = stages["train"]["train_images_per_second"]
    plain_rate = plain_fit_images_per_second(paths, params, args.fit_epochs)
    print("\ntraining throughput (images/s, training part of an epoch):")
    print(f"  train stage        {pipeline_rate:>9.0f}")
    print(f"  plain model.fit    {plain_rate:>9.0f}")
    print(f"  ratio stage/plain  {pipeline_rate / plain_rate:>9.2f}")

    noop = [timed(["dvc", "repro", "explain@mnist"]) for _ in range(3)]
    print(f"\nno-op dvc repro explain@mnist: {min(noop):.2f} s (best of 3; "
          f"{', '.join(f'{t:.2f}' for t in noop)})")


if __name__ == "__main__":
    main()
