"""evaluate@yalefaces: the held-out images are predicted, here and nowhere before, by the
network their outer fold trained and by the baselines (:mod:`.baselines`); accuracies pool
every repetition's predictions, and the network and Fisherfaces are compared on them by
McNemar's test (a handful of images separates them: a p-value, not a ranking). Also how well
the neural PCAs match PCA (:mod:`.agreement`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.yalefaces.agreement import neural_pca_agreement
from pipeline.experiments.yalefaces.baselines import baseline_predictions
from pipeline.experiments.yalefaces.layout import CLASSES
from pipeline.experiments.yalefaces.params import EXPERIMENT
from pipeline.experiments.yalefaces.processed import Processed, held_out_images
from pipeline.experiments.yalefaces.trained import FOLD_MODELS, FOLD_TASKS, load_network
from pipeline.ml import plots
from pipeline.ml.evaluation import (
    classification_metrics,
    write_confusion_matrix,
    write_predictions,
)
from pipeline.ml.significance import PairedTest, mcnemar

PROTOCOLS = ("loo", "kfold", "two_subjects")
HEADLINE_METHODS = ("network", "fisherfaces")
PAIRED = "_vs_".join(HEADLINE_METHODS)


def evaluate(ctx: StageContext) -> StageResult:
    data = Processed.load(ctx.paths.processed)
    params = ctx.params.evaluate
    with threadpool_limits(1):  # small SVDs: threads only fight over a busy CPU
        frames = [network_predictions(data, ctx.paths.model),
                  *baseline_predictions(data, sorted(params.baseline_components))]
        agreement = neural_pca_agreement(data, ctx.paths.model, params.agreement_components,
                                         ctx.out)
    predictions = pd.concat(frames, ignore_index=True)
    predictions["condition"] = data.table.loc[predictions["image"], "condition"].to_numpy()
    predictions["correct"] = predictions["actual"] == predictions["predicted"]
    predictions.to_csv(ctx.out / "predictions.csv", index=False)
    accuracy = predictions.groupby(["protocol", "method"])["correct"].agg(["mean", "size"])
    accuracy.to_csv(ctx.out / "accuracy.csv")
    by_repeat = predictions.groupby(["protocol", "method", "repeat"])["correct"].mean()
    by_repeat.unstack("repeat").to_csv(ctx.out / "accuracy_by_repeat.csv")
    by_condition = predictions.groupby(["protocol", "method", "condition"])["correct"].mean()
    by_condition.unstack("condition").to_csv(ctx.out / "accuracy_by_condition.csv")
    shown_protocol = next(p for p in PROTOCOLS if p in accuracy.index)
    network = predictions[(predictions["protocol"] == shown_protocol)
                          & (predictions["method"] == "network")]
    y_true, y_pred = network["actual"].to_numpy(), network["predicted"].to_numpy()
    write_predictions(ctx.plots / "predictions.csv", y_true, y_pred, CLASSES)
    write_confusion_matrix(ctx.out, y_true, y_pred, CLASSES)
    errors = network[~network["correct"]]
    shown = errors["image"].to_numpy()[:24]
    plots.image_gallery(
        ctx.out / "misclassified.png",
        data.features[shown].reshape(-1, *data.shape),
        [f"{data.table.loc[i, 'image']}→{CLASSES[p]} (r{r})"
         for i, p, r in zip(shown, errors["predicted"], errors["repeat"], strict=False)],
        suptitle=f"{shown_protocol}: the network's errors ({len(errors)}, all repetitions)")
    accuracies = {f"{protocol}_{method}_accuracy": float(row["mean"])
                  for (protocol, method), row in accuracy.iterrows()}
    headline = [f"{protocol}_{method}_accuracy" for protocol in PROTOCOLS
                for method in HEADLINE_METHODS]
    network_metrics = classification_metrics(y_true, y_pred, CLASSES)
    paired = {f"{protocol}_{PAIRED}_mcnemar": test
              for protocol, test in paired_tests(predictions).items()}
    return StageResult(
        {**{key: accuracies[key] for key in headline if key in accuracies},
         **{f"{key}_p": test.p_value for key, test in paired.items()}},
        {
            **{f"{key}_only_{method}_right": count for key, test in paired.items()
               for method, count in zip(HEADLINE_METHODS, (test.only_first_right,
                                                          test.only_second_right), strict=True)},
            **{key: value for key, value in accuracies.items() if key not in headline},
            **{f"{protocol}_{method}_predictions": int(row["size"])
               for (protocol, method), row in accuracy.iterrows()},
            **{f"{protocol}_{method}_accuracy_repeat{repeat}": float(value)
               for (protocol, method, repeat), value in by_repeat.items()
               if method in HEADLINE_METHODS},
            **{f"{shown_protocol}_network_accuracy_{condition}": float(value)
               for (protocol, method, condition), value in by_condition.items()
               if protocol == shown_protocol and method == "network"},
            **network_metrics.metrics,
            **network_metrics.details,
            **agreement,
        },
    )


def paired_tests(predictions: pd.DataFrame) -> dict[str, PairedTest]:
    """Per protocol, McNemar's test of the network against Fisherfaces on the pooled
    predictions (every repetition's, paired by repetition and image)."""
    tests = {}
    for protocol, rows in predictions.groupby("protocol"):
        correct = rows.pivot(index=["repeat", "image"], columns="method", values="correct")
        tests[protocol] = mcnemar(*(correct[method].to_numpy() for method in HEADLINE_METHODS))
    return tests


def network_predictions(data: Processed, models: Path) -> pd.DataFrame:
    """Every protocol's held-out predictions by the network its outer fold trained."""
    tasks = pd.read_csv(models / FOLD_TASKS)
    rows = []
    for file, group in tasks.groupby("model"):
        model = load_network(models / FOLD_MODELS / file)
        logits = model.predict(data.features, batch_size=len(data.features), verbose=0)
        for repeat, protocol, fold, task in zip(group["repeat"], group["protocol"],
                                                group["outer_fold"], group["task"], strict=True):
            held_out = held_out_images(data.folds, repeat, protocol, fold)
            rows.append(pd.DataFrame({
                "repeat": repeat, "protocol": protocol, "method": "network", "image": held_out,
                "actual": data.labels[held_out],
                "predicted": logits[held_out, task].argmax(axis=1)}))
    return pd.concat(rows, ignore_index=True)


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
