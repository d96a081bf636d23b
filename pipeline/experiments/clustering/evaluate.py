"""evaluate@clustering: the test images, read here for the first time, assigned to the
clusters each method fitted on the training images; the adjusted Rand index and clustering
accuracy per pair, colour mode and method, as mean and standard deviation over the seeds. The
report claimed a complete separation with no metric: whether the autoencoder's codes cluster
better than PCA(2) of the pixels is measured here, and said either way."""

from __future__ import annotations

import logging

import numpy as np

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.clustering.clusters import METHODS, scores
from pipeline.experiments.clustering.data import load_pair_split, pair_classes, pixel_vectors
from pipeline.experiments.clustering.layout import load_clusterings, read_models_list
from pipeline.experiments.clustering.model import encode, load_encoder
from pipeline.experiments.clustering.params import EXPERIMENT

log = logging.getLogger(__name__)


def evaluate(ctx: StageContext) -> StageResult:
    per_seed: dict[tuple[str, str], dict[str, list[dict[str, float]]]] = {}
    test_images: dict[tuple[str, str], int] = {}
    for run in read_models_list(ctx.paths.model):
        x_test, y_test = load_pair_split(ctx.paths.processed, run["task"], "test", run["mode"])
        folder = ctx.paths.model / run["folder"]
        assigned = load_clusterings(folder).assign(encode(load_encoder(folder), x_test),
                                                   pixel_vectors(x_test))
        test_images[run["task"], run["mode"]] = len(y_test)
        found = per_seed.setdefault((run["task"], run["mode"]), {m: [] for m in METHODS})
        for method, clusters in assigned.items():
            found[method].append(scores(y_test, clusters))
    metrics, details, beaten = {}, {}, 0
    for (task, mode), found in per_seed.items():
        prefix = f"{task}_{mode}"
        summary = {method: summarise(seen) for method, seen in found.items()}
        details[prefix] = {"classes": pair_classes(ctx.paths.processed, task),
                           "test_images": test_images[task, mode], **summary}
        metrics |= {f"{prefix}_{method}_ari": summary[method]["ari_mean"] for method in METHODS}
        metrics[f"{prefix}_autoencoder_accuracy"] = summary["autoencoder"]["accuracy_mean"]
        outcome = comparison(summary)
        beaten += outcome == "beats"
        details[prefix]["verdict"] = verdict(summary, outcome)
        log.info("%s: %s", prefix, details[prefix]["verdict"])
    metrics["autoencoder_beats_pca_count"] = beaten  # of the pairs x colour modes

    return StageResult(metrics, details)


def summarise(seen: list[dict[str, float]]) -> dict[str, float | list[float]]:
    """Mean, standard deviation (over seeds, ddof 0) and the values of each score."""
    summary: dict[str, float | list[float]] = {}
    for score in ("ari", "accuracy"):
        values = np.array([item[score] for item in seen])
        summary |= {f"{score}_mean": float(values.mean()), f"{score}_std": float(values.std()),
                    f"{score}_per_seed": values.tolist()}
    return summary


def comparison(summary: dict[str, dict]) -> str:
    """"beats" or "does NOT beat" when the autoencoder's mean ARI differs from PCA(2)'s by
    more than their two spreads together; a smaller difference is no evidence either way."""
    autoencoder, pca = summary["autoencoder"], summary["pca"]
    difference = autoencoder["ari_mean"] - pca["ari_mean"]
    if abs(difference) <= autoencoder["ari_std"] + pca["ari_std"]:
        return "is not distinguishable (within the seeds' spread) from"
    return "beats" if difference > 0 else "does NOT beat"


def verdict(summary: dict[str, dict], outcome: str) -> str:
    def text(method: str) -> str:
        return f"{summary[method]['ari_mean']:.3f} ± {summary[method]['ari_std']:.3f}"

    return (f"autoencoder ARI {text('autoencoder')} vs PCA(2) {text('pca')} and raw pixels "
            f"{text('pixels')}: the autoencoder {outcome} PCA(2)")


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
