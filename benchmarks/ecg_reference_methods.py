"""How far the strongest classical methods get on ECG5000's official split, for scale next to the
pipeline's models: logistic regression and 1-NN on the raw samples, and full ROCKET (Dempster et
al. 2020: random dilated convolution kernels, proportion-of-positive-values and max features, a
ridge classifier), a top entry of the UCR benchmarks.

The pipeline's ROCKET (``pipeline.experiments.ecg5000.rocket``, the ECG default) takes the max of
each response without its bias (so its maxima do not depend on the feature set) and chooses
between the max alone and max + proportion of positive values by leave-one-out; this is full
ROCKET as published, both features of the response plus its bias, on the pipeline's kernel draw,
the biases and features computed in NumPy (rather than taking sktime or aeon, which would bring
numba into the project for one benchmark).

    python benchmarks/ecg_reference_methods.py [--data ../shared/datasets/ecg5000] [--kernels 10000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeClassifierCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from pipeline.experiments.ecg5000.beats import (
    UCR_LAYOUT,
    read_beats,
)
from pipeline.experiments.ecg5000.layout import UCR_TEST, UCR_TRAIN
from pipeline.experiments.ecg5000.rocket import random_kernels

NORMAL = 1  # UCR beat class 1


def read_ucr(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's own parser; a file with unusable rows is refused, not silently cut."""
    beats, issues = read_beats(path, UCR_LAYOUT)
    if issues:
        raise SystemExit(f"{path}: {len(issues)} unusable rows, first: {issues[0]}")
    return beats.samples, beats.labels


def rocket_features(x: np.ndarray, groups: list, rng: np.random.Generator) -> np.ndarray:
    """Full ROCKET's two features per kernel, the proportion of positive values and the
    maximum of the response plus a bias uniform in [-1, 1], for the pipeline's kernel draw."""
    columns = []
    for dilation, padded, weights in groups:
        taps = weights.shape[0]
        pad = (taps - 1) * dilation // 2 if padded else 0
        series = np.pad(x, ((0, 0), (pad, pad)))
        steps = series.shape[1] - (taps - 1) * dilation
        for kernel in weights[:, 0, :].T:
            response = np.full((len(x), steps), rng.uniform(-1, 1))
            for tap, weight in enumerate(kernel):
                response += weight * series[:, tap * dilation: tap * dilation + steps]
            columns.append(np.stack([(response > 0).mean(axis=1), response.max(axis=1)], 1))
    return np.hstack(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared/datasets/ecg5000")
    parser.add_argument("--kernels", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    x_train, y_train = read_ucr(args.data / UCR_TRAIN)
    x_test, y_test = read_ucr(args.data / UCR_TEST)

    groups = random_kernels(args.kernels, x_train.shape[1], args.seed)
    # the same biases for both files: one generator each, seeded alike
    rocket_train = rocket_features(x_train, groups, np.random.default_rng(args.seed))
    rocket_test = rocket_features(x_test, groups, np.random.default_rng(args.seed))
    scaler = StandardScaler().fit(rocket_train)
    rocket_train, rocket_test = scaler.transform(rocket_train), scaler.transform(rocket_test)
    raw = StandardScaler().fit(x_train)
    methods = {
        "logistic regression (raw)": (LogisticRegression(max_iter=5000),
                                      raw.transform(x_train), raw.transform(x_test)),
        "1-NN Euclidean (raw)": (KNeighborsClassifier(1), x_train, x_test),
        f"full ROCKET {args.kernels} kernels + ridge": (
            RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)), rocket_train, rocket_test),
    }
    print(f"{'method':34} {'binary':>8} {'5 classes':>10}   (official test set, "
          f"{len(y_test)} beats)")
    for name, (model, train, test) in methods.items():
        binary = model.fit(train, y_train != NORMAL).score(test, y_test != NORMAL)
        multiclass = model.fit(train, y_train).score(test, y_test)
        print(f"{name:34} {binary:8.4f} {multiclass:10.4f}")


if __name__ == "__main__":
    main()
