"""train@clustering: for each pair, colour mode and seed, the autoencoder trained on the
pair's training images (early-stopped on the validation split), then the three clusterings
fitted on the same training images: K-means on its codes, on PCA(2) of the pixels and on the
pixels. The validation images' scores are what the default was chosen by (never the test)."""

from __future__ import annotations

import numpy as np

from pipeline.core.context import StageContext, StageResult
from pipeline.core.runner import main
from pipeline.experiments.clustering.clusters import METHODS, Clusterings, scores
from pipeline.experiments.clustering.data import load_pair_split, pixel_vectors
from pipeline.experiments.clustering.layout import (
    model_folder,
    save_clusterings,
    save_models_list,
)
from pipeline.experiments.clustering.model import build_autoencoder, encode
from pipeline.experiments.clustering.params import EXPERIMENT
from pipeline.ml.predict import save_trained_model
from pipeline.ml.training import EpochTimer, fit
from pipeline.tracking.runs import nested_run


def train(ctx: StageContext) -> StageResult:
    params = ctx.params.train
    seeds = [ctx.seed + repetition for repetition in range(params.repetitions)]
    runs, metrics, details, epoch_seconds = [], {}, {}, []
    for task in ctx.params.tasks:
        for mode in ctx.params.colour_modes:
            x_train, _ = load_pair_split(ctx.paths.processed, task, "train", mode)
            x_validation, y_validation = load_pair_split(ctx.paths.processed, task,
                                                         "validation", mode)
            validation_scores = {method: [] for method in METHODS}
            for seed in seeds:
                name = model_folder(task, mode, seed)
                folder = ctx.out / name
                folder.mkdir(parents=True)
                model = build_autoencoder(x_train.shape[1:], params.autoencoder, seed)
                timer = EpochTimer()
                with nested_run(f"train {name}", task=task, mode=mode, seed=str(seed)):
                    history = fit(model, (x_train, x_train), (x_validation, x_validation),
                                  params, callbacks=[timer], verbose=0)
                save_trained_model(model, folder)
                history.to_csv(folder / "history.csv", index=False, float_format="%.6g")
                encoder = model.get_layer("encoder")
                clusterings = Clusterings.fit(
                    encode(encoder, x_train), pixel_vectors(x_train),
                    standardise_codes=params.standardise_codes,
                    restarts=params.kmeans_restarts, seed=seed)
                save_clusterings(folder, clusterings)
                assigned = clusterings.assign(encode(encoder, x_validation),
                                              pixel_vectors(x_validation))
                for method, clusters in assigned.items():
                    validation_scores[method].append(scores(y_validation, clusters))
                runs.append({"task": task, "mode": mode, "seed": seed, "folder": name})
                details[f"{name}/epochs_run"] = len(history)
                details[f"{name}/best_val_loss"] = float(history["val_loss"].min())
                epoch_seconds.append(timer.median_seconds)
            prefix = f"{task}_{mode}"
            for method, seen in validation_scores.items():
                for score in ("ari", "accuracy"):
                    details[f"{prefix}_{method}_val_{score}"] = [item[score] for item in seen]
            metrics[f"{prefix}_autoencoder_val_ari"] = float(
                np.mean(details[f"{prefix}_autoencoder_val_ari"]))
    save_models_list(ctx.out, runs)
    details["parameters"] = int(model.count_params())
    return StageResult(metrics, details,
                       {"median_seconds_per_epoch": round(float(np.median(epoch_seconds)), 3)})


if __name__ == "__main__":
    main(EXPERIMENT, "train", train)
