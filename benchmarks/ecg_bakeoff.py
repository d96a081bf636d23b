"""ECG5000 against the bake-off: the pipeline's default, from its own stages, beside the
strongest time-series classifiers that install as packages, on the official split (500
training beats, 4,500 test beats), for the five-class and the binary task, in one run.

The pipeline's figures come from its stages (download to evaluate) run per task in a scratch
project with this checkout's params; the peers are aeon's (Middlehurst et al. 2024, "Bake off
redux"): Hydra, MultiRocket-Hydra, WEASEL 2.0, MrSQM (only where its package installs) and
ROCKET, fitted on the same 500 beats with their default settings and a fixed seed. Each row
carries McNemar's exact test against the pipeline's predictions on the same beats.

aeon is a benchmark dependency, not the pipeline's (aeon 1.6 wants pandas < 3.1), so it lives
in a venv of its own:

    python -m venv .venv-bakeoff && .venv-bakeoff/bin/pip install -e . aeon==1.6.0
    .venv-bakeoff/bin/python benchmarks/ecg_bakeoff.py [--data ../shared/datasets]
"""

from __future__ import annotations

import argparse
import importlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from ecg_reference_methods import read_ucr

from pipeline.cli import run_stage
from pipeline.core.paths import STAGES
from pipeline.experiments.ecg5000.labels import BINARY_CLASSES, UCR_CLASSES, task_labels
from pipeline.experiments.ecg5000.layout import UCR_TEST, UCR_TRAIN
from pipeline.ml.significance import mcnemar

TASKS = {"multiclass": UCR_CLASSES, "binary": BINARY_CLASSES}
# name: (module, class) of each peer
PEERS = {
    "Hydra": ("aeon.classification.convolution_based", "HydraClassifier"),
    "MultiRocket-Hydra": ("aeon.classification.convolution_based", "MultiRocketHydraClassifier"),
    "WEASEL 2.0": ("aeon.classification.dictionary_based", "WEASEL_V2"),
    "MrSQM": ("aeon.classification.dictionary_based", "MrSQMClassifier"),
    "ROCKET (aeon, both features)": ("aeon.classification.convolution_based",
                                     "RocketClassifier"),
}


def pipeline_predictions(data: Path, task: str, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The default pipeline's test labels and predictions (task label indices): its
    stages up to evaluate, in a scratch project whose params differ from the checkout's
    only in the task."""
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["ecg5000"]["preprocess"]["task"] = task
    folder.mkdir(parents=True)
    params_file = folder / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    os.environ.update(PIPELINE_MIRROR=str(data),
                      MLFLOW_TRACKING_URI=f"sqlite:///{folder / 'mlflow.db'}")
    for stage in STAGES[:STAGES.index("evaluate") + 1]:
        run_stage(stage, "ecg5000", params_file=params_file, root=folder)
    predicted = pd.read_csv(folder / "metrics" / "ecg5000" / "evaluate_predictions.csv")
    classes = TASKS[task]
    return predicted["actual"].map(classes.index).to_numpy(), predicted["predicted"].map(
        classes.index).to_numpy()


def peer(name: str, seed: int) -> Any | None:
    """The peer's aeon estimator, or None (said) where it or its own package is missing:
    aeon checks a soft dependency such as MrSQM's when the estimator is made."""
    module, cls = PEERS[name]
    try:
        return getattr(importlib.import_module(module), cls)(random_state=seed)
    except ModuleNotFoundError as error:
        print(f"  {name}: not available here ({error})")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    parser.add_argument("--seed", type=int, default=0, help="the peers' random_state")
    args = parser.parse_args()
    args.data = args.data.resolve()  # the pipeline's stages run in a scratch folder
    x_train, ucr_train = read_ucr(args.data / "ecg5000" / UCR_TRAIN)
    x_test, ucr_test = read_ucr(args.data / "ecg5000" / UCR_TEST)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ecg-bakeoff-") as scratch:
        for task in TASKS:
            y_train, y_test = task_labels(ucr_train, task), task_labels(ucr_test, task)
            started = time.perf_counter()
            actual, ours = pipeline_predictions(args.data, task, Path(scratch) / task)
            if not np.array_equal(actual, y_test):
                raise SystemExit(f"{task}: the pipeline's test beats are not the test file's, "
                                 "in its order: predictions cannot be paired")
            ours_correct = ours == y_test
            rows.append({"task": task, "method": "pipeline default", "accuracy":
                         ours_correct.mean(), "seconds": time.perf_counter() - started})
            for name in PEERS:
                model = peer(name, args.seed)
                if model is None:
                    continue
                started = time.perf_counter()
                try:
                    model.fit(x_train[:, None, :], y_train)
                    correct = model.predict(x_test[:, None, :]) == y_test
                except Exception as error:  # a peer's package at odds with this environment
                    print(f"  {task:<10} {name:<30} failed: {type(error).__name__}: {error}")
                    continue
                test = mcnemar(ours_correct, correct)
                rows.append({"task": task, "method": name, "accuracy": correct.mean(),
                             "seconds": time.perf_counter() - started,
                             "only_pipeline_right": test.only_first_right,
                             "only_peer_right": test.only_second_right,
                             "mcnemar_p": test.p_value})
                print(f"  {task:<10} {name:<30} {correct.mean():.4f}", flush=True)
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 160)
    print(table.to_string(index=False, float_format=lambda value: f"{value:.4f}"))
    for task, group in table.groupby("task"):
        ours = group.loc[group["method"] == "pipeline default", "accuracy"].item()
        ahead = group[(group["method"] != "pipeline default") & (group["accuracy"] > ours)]
        print(f"{task}: the pipeline's default ({ours:.4f}) is "
              + ("at or above every peer" if ahead.empty else
                 "behind " + ", ".join(f"{m} ({a:.4f})" for m, a in
                                       zip(ahead["method"], ahead["accuracy"], strict=True))))


if __name__ == "__main__":
    main()
