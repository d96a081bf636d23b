"""MNIST pipeline figures from one run: per-stage wall time, training throughput of the train
stage against a plain ``model.fit`` of the same model on in-memory arrays, and the time of a
no-op ``dvc repro``.

Run from the repository root after (or with ``--repro``, as part of) a pipeline run:

    python benchmarks/mnist_pipeline.py --repro    # dvc repro mnist-explain, then measure
    python benchmarks/mnist_pipeline.py            # measure the last run's outputs
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np

from pipeline.core.outputs import read_stage_metrics
from pipeline.core.params import load_experiment_params
from pipeline.core.paths import STAGES, ExperimentPaths
from pipeline.core.reproducibility import seed_everything
from pipeline.experiments.mnist.model import build_cnn
from pipeline.experiments.mnist.params import Params
from pipeline.ml import training
from pipeline.ml.search_space import fixed_hyperparameters, read_best
from pipeline.ml.split_files import load_split


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def training_images_per_second(paths: ExperimentPaths, params: Params, epochs: int) -> dict:
    """Images/s of the train stage's code path (``training.fit``: validation, early stopping,
    LR decay, per-epoch MLflow logging) and of a bare ``model.fit`` on the same in-memory
    arrays, same model (best hyperparameters, augmentation) and batch size, measured back to
    back in this process so both see the same machine. Median epoch after the first."""
    x, y = load_split(paths.processed, "train")
    validation = load_split(paths.processed, "validation")
    values = read_best(paths.tune)
    train_params = params.train.model_copy(update={"epochs": epochs})
    rates = {}
    for name in ("pipeline training.fit", "plain model.fit"):
        seed_everything(0)
        model = build_cnn(fixed_hyperparameters(values), params.tune.search_space,
                          params.train.augmentation)
        timer = training.EpochTimer()
        if name == "plain model.fit":
            model.fit(x, y, batch_size=train_params.batch_size, epochs=epochs,
                      callbacks=[timer], verbose=0)
        else:
            with mlflow.start_run(run_name="benchmark"):
                training.fit(model, (x, y), validation, train_params, callbacks=[timer],
                             verbose=0)
        rates[name] = len(x) / float(np.median(timer.seconds[1:] or timer.seconds))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repro", action="store_true", help="run dvc repro mnist-explain first")
    parser.add_argument("--fit-epochs", type=int, default=3, help="epochs per measured fit")
    args = parser.parse_args()
    root = Path.cwd()
    paths = ExperimentPaths(root, "mnist")
    if args.repro:
        print(f"dvc repro mnist-explain: {timed(['dvc', 'repro', 'mnist-explain']):.1f} s")
    seconds = {stage: read_stage_metrics(paths, stage)[f"{stage}_seconds"] for stage in STAGES}
    print("\nper-stage wall time (s, inside the stage process):")
    for stage, value in seconds.items():
        print(f"  {stage:<11}{value:>9.1f}")
    print(f"  {'total':<11}{sum(seconds.values()):>9.1f}")

    params = load_experiment_params(root / "params.yaml", "mnist", Params)
    details = json.loads(paths.details_file("train").read_text())
    print(f"\ntrain stage, as it ran: {details['train_samples_per_second']:.0f} images/s")
    mlflow.set_tracking_uri(f"sqlite:///{tempfile.mkdtemp()}/benchmark.db")
    rates = training_images_per_second(paths, params, args.fit_epochs)
    print("training throughput now, same model and batch (images/s, training part of an epoch):")
    for name, rate in rates.items():
        print(f"  {name:<24}{rate:>9.0f}")
    ratio = rates["pipeline training.fit"] / rates["plain model.fit"]
    print(f"  {'ratio pipeline/plain':<24}{ratio:>9.2f}")

    noop = [timed(["dvc", "repro", "mnist-explain"]) for _ in range(3)]
    print(f"\nno-op dvc repro mnist-explain: {min(noop):.2f} s (best of 3; "
          f"{', '.join(f'{t:.2f}' for t in noop)})")


if __name__ == "__main__":
    main()
