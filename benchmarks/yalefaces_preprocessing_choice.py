"""Would a nested choice of the Yale preprocessing pick what params.yaml fixes?

The default crop and lighting (face crop, histogram equalisation) were chosen by comparing
variants' leave-one-out accuracy, which is optimistic. Here the variant becomes one more
nested choice of the baselines: every selection set picks (variant, PCA size) by its own inner
cross-validation, exactly as the pipeline picks the PCA size alone, and the outer folds are
scored with what their set picked. Printed: each variant held fixed, then the nested choice,
and which variant each selection set picked.

    python benchmarks/yalefaces_preprocessing_choice.py [--data ../shared/datasets/yalefaces]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from pipeline.core.params import load_experiment_params
from pipeline.experiments.yalefaces.baselines import classify_projected, inner_correct
from pipeline.experiments.yalefaces.database import read_database
from pipeline.experiments.yalefaces.features import prepare_features
from pipeline.experiments.yalefaces.params import EXPERIMENT
from pipeline.experiments.yalefaces.processed import Processed, held_out_images, training_images
from pipeline.experiments.yalefaces.protocols import split_protocols

REPO = Path(__file__).resolve().parents[1]
# the repository's params (the models have no defaults)
PARAMS = load_experiment_params(REPO / "params.yaml", "yalefaces", EXPERIMENT.params)
VARIANTS = {  # name: changes to the default preprocess params
    "whole image, none": {"crop": None, "lighting": "none"},
    "whole image, equalize": {"crop": None, "lighting": "equalize"},
    "face, none": {"lighting": "none"},
    "face, standardize": {"lighting": "standardize"},
    "face, equalize (default)": {},
}
METHODS = ("eigenfaces_1nn", "fisherfaces")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2]
                        / "shared/datasets/yalefaces")
    parser.add_argument("--seed", type=int, default=42, help="params.yaml's seed: same blocks")
    parser.add_argument("--components", type=int, nargs="+", default=[10, 20, 30, 40, 60])
    args = parser.parse_args()
    pixels, table = read_database(args.data)
    default = PARAMS.preprocess
    folds, sets = split_protocols(table, default, args.seed)
    features = {name: prepare_features(pixels, default.model_copy(update=changes))[0]
                for name, changes in VARIANTS.items()}
    protocols = Processed(features["face, equalize (default)"], table, folds, sets, (0, 0))
    y = protocols.labels
    with threadpool_limits(1):
        for method in METHODS:
            # correct inner predictions per (selection set, variant, candidate size)
            correct = {
                (set_name, variant): inner_correct(
                    method, features[variant][members["image"]], y[members["image"]],
                    members["inner_fold"].to_numpy(), args.components)
                for set_name, members in sets.groupby("selection_set")
                for variant in VARIANTS
            }
            nested = {set_name: max(VARIANTS, key=lambda v, s=set_name: correct[s, v].max())
                      for set_name in sets["selection_set"].unique()}
            print(f"\n{method}")
            for variant in [*VARIANTS, None]:
                picks = {s: variant or nested[s] for s in nested}
                scores = outer_accuracy(protocols, features, picks, correct, args.components,
                                        method)
                label = variant or "nested choice"
                print(f"  {label:26s}" + "  ".join(f"{p} {a:.2%}" for p, a in scores.items()))
            for family in ("main", "two"):
                chosen = Counter(v for s, v in nested.items() if s.startswith(family)
                                 or (family == "main" and s == "all"))
                print(f"  {family} sets picked: {dict(chosen)}")


def outer_accuracy(protocols: Processed, features: dict[str, np.ndarray], picks: dict[str, str],
                   correct: dict[tuple[str, str], np.ndarray], candidates: list[int],
                   method: str) -> dict[str, float]:
    """Per protocol, the held-out accuracy (all repetitions' predictions) when each outer fold
    uses its selection set's variant and that variant's best PCA size (smallest on a tie)."""
    hits: dict[str, list[bool]] = {}
    y = protocols.labels
    for repeat, protocol, fold, set_name in protocols.outer_folds():
        variant = picks[set_name]
        k = candidates[int(np.argmax(correct[set_name, variant]))]
        x = features[variant]
        train = training_images(protocols.folds, repeat, protocol, fold)
        held_out = held_out_images(protocols.folds, repeat, protocol, fold)
        pca = PCA(k, svd_solver="full").fit(x[train])
        predicted = classify_projected(method, pca.transform(x[train]), y[train],
                                       pca.transform(x[held_out]))
        hits.setdefault(protocol, []).extend(predicted == y[held_out])
    return {protocol: float(np.mean(values)) for protocol, values in hits.items()}


if __name__ == "__main__":
    main()
