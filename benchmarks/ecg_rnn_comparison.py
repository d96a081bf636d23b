"""Does an LSTM beat a plain RNN on ECG5000? The course report said so (vanishing gradients)
without an experiment; this runs one, with equal budgets for both cells.

Both cells get the same data (the pipeline's split of the official UCR training file, seeded
and stratified, scaled on the training split; the official 4500-beat test set), the same
seeds and the same training budget, in two settings:

* ``report``: the report's model with the cell swapped: ``cell(50)`` over the 140 raw samples,
  Adam 1e-3, batch 32, 10 epochs, no class weights and no early stopping;
* ``pipeline``: the pipeline's model (the search space, labels, class weights and
  augmentation of params.yaml, with ``cell`` fixed to each in turn): the same random search
  (same trials, same seed, hence the same sampled configurations) on the validation split,
  then the best configuration retrained as one model (no ensemble) with each seed and scored
  on the test set.

Besides test accuracy, ROC-AUC (binary) and time, it reports how the gradient of the predicted
logit reaches back in time: mean |d logit / d x_t| over the first 20 samples divided by that
over the last 20 (validation beats), the quantity the vanishing-gradient argument is about.

    python benchmarks/ecg_rnn_comparison.py                       # binary, 3 seeds, 4 trials
    python benchmarks/ecg_rnn_comparison.py --task multiclass --seeds 2

Writes ``results.csv`` (one row per setting, cell and seed) and ``summary.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
from sklearn import metrics as skm

from pipeline.core.errors import DataError
from pipeline.core.params import load_experiment_params
from pipeline.core.reproducibility import seed_everything
from pipeline.experiments.ecg5000.beats import (
    UCR_LAYOUT,
    read_beats,
)
from pipeline.experiments.ecg5000.labels import (
    class_names,
    class_weights,
    task_labels,
    training_class_names,
)
from pipeline.experiments.ecg5000.layout import UCR_TEST, UCR_TRAIN
from pipeline.experiments.ecg5000.logits import normal_vs_abnormal
from pipeline.experiments.ecg5000.params import AugmentationParams, Params
from pipeline.experiments.ecg5000.preprocess import fit_scaler, scale
from pipeline.experiments.ecg5000.recurrent import build_recurrent
from pipeline.ml import attribution
from pipeline.ml.params import Objective, TrainParams
from pipeline.ml.predict import predict_probabilities
from pipeline.ml.search_space import fixed_hyperparameters
from pipeline.ml.splits import stratified_indices
from pipeline.ml.training import fit
from pipeline.ml.tuning import search

REPO = Path(__file__).resolve().parents[1]
CELLS = ("lstm", "simple_rnn")
REPORT_MODEL = {"conv_blocks": 0, "recurrent_layers": 1, "bidirectional": False, "units": 50,
                "dropout": 0.0, "learning_rate": 0.001, "clipnorm": 0.0}
Split = tuple[np.ndarray, np.ndarray]


def load_splits(shared: Path, seed: int, validation_fraction: float) -> dict[str, Split]:
    """The preprocess stage's splits of the UCR files (which hold no unusable rows), with
    their UCR classes 1..5: validation stratified by class, scaled on the training split."""
    files = {}
    for name in (UCR_TRAIN, UCR_TEST):
        beats, issues = read_beats(shared / "ecg5000" / name, UCR_LAYOUT)
        if issues:
            raise DataError(f"{shared / 'ecg5000' / name}: {len(issues)} unusable rows")
        files[name] = (beats.samples, beats.labels)
    x, y = files[UCR_TRAIN]
    kept, held_out = stratified_indices(y, validation_fraction, seed)
    scaler = fit_scaler(x[kept])
    return {
        "train": (scale(x[kept], scaler), y[kept]),
        "validation": (scale(x[held_out], scaler), y[held_out]),
        "test": (scale(files[UCR_TEST][0], scaler), files[UCR_TEST][1]),
    }


def labelled(splits: dict[str, Split], task: str, beat_classes: bool) -> dict[str, Split]:
    """Train and validation labelled for learning (beat classes 0..4, or the task's labels),
    test for scoring (the task's labels)."""
    return {
        split: (x, task_labels(y, "multiclass" if beat_classes and split != "test" else task))
        for split, (x, y) in splits.items()
    }


def configuration_hash(*parts: object) -> str:
    """A short stable hash of JSON-able parts: the search's folder, resumed when they match."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def gradient_reach(model: keras.Model, x: np.ndarray) -> float:
    """Mean |d logit / d x_t| over the first 20 samples over that over the last 20."""
    predicted = predict_probabilities(model, x).argmax(axis=1)
    chosen = keras.ops.one_hot(predicted, model.output_shape[-1])
    grads = np.abs(attribution.gradient(
        lambda inputs: model(inputs, training=False) * chosen, x
    )).mean(axis=(0, 2))
    return float(grads[:20].mean() / max(grads[-20:].mean(), 1e-12))


def score(model: keras.Model, test: Split, classes: int) -> dict[str, float]:
    """Test accuracy (and ROC-AUC for two classes) of a model answering with task logits."""
    probabilities = predict_probabilities(model, test[0])
    row = {"test_accuracy": float(skm.accuracy_score(test[1], probabilities.argmax(axis=1))),
           "test_balanced_accuracy": float(
               skm.balanced_accuracy_score(test[1], probabilities.argmax(axis=1)))}
    if classes == 2:
        row["test_roc_auc"] = float(skm.roc_auc_score(test[1], probabilities[:, 1]))
    return row


def run_setting(
    setting: str, cell: str, space: dict, train_params: TrainParams, weights: dict | None,
    splits: dict[str, Split], classes: tuple[int, int], seeds: list[int],
    augmentation: AugmentationParams | None = None,
) -> list[dict]:
    """Train ``space`` (all fixed) once per seed; one result row per seed. ``classes`` is
    (learnt, scored): a beat-class model is scored as normal vs abnormal."""
    rows = []
    hp_values = {**space, "cell": cell}
    for seed in seeds:
        seed_everything(seed)
        with mlflow.start_run(run_name=f"{setting}-{cell}-seed{seed}", nested=True):
            model = build_recurrent(fixed_hyperparameters(hp_values), hp_values,
                                    classes[0], augmentation)
            started = time.perf_counter()
            history = fit(model, splits["train"], splits["validation"], train_params,
                          class_weight=weights, verbose=0)
            scored = model if classes[0] == classes[1] else normal_vs_abnormal(model)
            rows.append({
                "setting": setting, "cell": cell, "seed": seed, "epochs_run": len(history),
                "train_seconds": round(time.perf_counter() - started, 1),
                "parameters": int(model.count_params()),
                **score(scored, splits["test"], classes[1]),
                "gradient_reach_first20_over_last20": gradient_reach(
                    scored, splits["validation"][0]),
                "hyperparameters": json.dumps(hp_values, sort_keys=True),
            })
            mlflow.log_metrics({key: value for key, value in rows[-1].items()
                                if key.startswith(("test_", "gradient_"))})
        print({key: value for key, value in rows[-1].items() if key != "hyperparameters"},
              flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--task", choices=["binary", "multiclass"], default="binary")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=4, help="search trials per cell")
    parser.add_argument("--settings", nargs="+", choices=["report", "pipeline"],
                        default=["report", "pipeline"])
    parser.add_argument("--out", type=Path, default=REPO / "bench-out" / "ecg_rnn_comparison")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{(args.out / 'mlflow.db').resolve()}")
    mlflow.set_experiment("ecg_rnn_comparison")

    params: Params = load_experiment_params(REPO / "params.yaml", "ecg5000", Params)
    params = params.model_copy(update={"preprocess": params.preprocess.model_copy(
        update={"task": args.task})})
    scored = len(class_names(params.preprocess))
    seed = 42
    splits = load_splits(args.shared, seed, params.preprocess.validation_fraction)
    seeds = list(range(args.seeds))
    rows: list[dict] = []
    started = time.perf_counter()
    with mlflow.start_run(run_name=f"comparison-{args.task}"):
        if "report" in args.settings:
            report_train = TrainParams(  # the report's 10 epochs of batch 32, nothing stopping
                epochs=10, batch_size=32, monitor=Objective(name="val_loss", direction="min"),
                early_stopping_patience=10, reduce_lr_patience=10, reduce_lr_factor=0.3,
                mixed_precision=False)
            for cell in CELLS:
                rows += run_setting("report", cell, REPORT_MODEL, report_train, None,
                                    labelled(splits, args.task, beat_classes=False),
                                    (scored, scored), seeds)
        if "pipeline" in args.settings:
            rows += pipeline_setting(params, splits, args, seed, seeds)
    results = pd.DataFrame(rows)
    results.to_csv(args.out / "results.csv", index=False)
    summary = summarise(results, args, time.perf_counter() - started)
    (args.out / "summary.md").write_text(summary)
    print(summary)


def pipeline_setting(
    params: Params, splits: dict[str, Split], args: argparse.Namespace, seed: int,
    seeds: list[int],
) -> list[dict]:
    """The same random search for each cell (the cell fixed, everything else as in
    params.yaml), then its best single model retrained with each seed (no ensemble)."""
    learnt = len(training_class_names(params.preprocess))
    scored = len(class_names(params.preprocess))
    data = labelled(splits, args.task, beat_classes=learnt == 5)
    weights = class_weights(data["train"][1], learnt, params.preprocess.class_weights)
    tune_params = params.tune.model_copy(update={"tuner": "random_search",
                                                 "max_trials": args.trials})
    rows = []
    for cell in CELLS:
        space = {**params.tune.search_space, "cell": cell}
        with mlflow.start_run(run_name=f"search-{cell}", nested=True):
            best, _ = search(
                lambda hp, space=space: build_recurrent(hp, space, learnt, None),
                params=tune_params, train=data["train"], validation=data["validation"],
                workdir=args.out / "tuning" / configuration_hash(
                    space, tune_params.model_dump(mode="json"), args.task, learnt, seed),
                seed=seed, class_weight=weights,
            )
        train_params = params.train.model_copy(update={"batch_size": best.get(
            "batch_size", params.train.batch_size)})
        rows += run_setting("pipeline", cell, best, train_params, weights, data,
                            (learnt, scored), seeds, params.train.augmentation)
    return rows


def summarise(results: pd.DataFrame, args: argparse.Namespace, seconds: float) -> str:
    """A markdown table: mean ± sd over seeds per setting and cell."""
    measures = [c for c in ("test_accuracy", "test_balanced_accuracy", "test_roc_auc",
                            "gradient_reach_first20_over_last20", "epochs_run",
                            "train_seconds") if c in results]
    lines = [f"ECG5000 {args.task}, official test set (4500 beats), {args.seeds} seeds each "
             f"(mean ± sd), {args.trials} search trials per cell in the pipeline setting; "
             f"{seconds / 60:.1f} min in all.", "",
             "| setting | cell | parameters | " + " | ".join(measures) + " |",
             "|---|---|---|" + "---|" * len(measures)]
    for (setting, cell), group in results.groupby(["setting", "cell"], sort=False):
        cells = [f"{group[m].mean():.4f} ± {group[m].std(ddof=0):.4f}" if "seconds" not in m
                 and m != "epochs_run" else f"{group[m].mean():.1f}" for m in measures]
        lines.append(f"| {setting} | {cell} | {group['parameters'].iloc[0]} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
