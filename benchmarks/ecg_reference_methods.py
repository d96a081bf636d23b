"""How far the strongest classical methods get on ECG5000's official split, for scale next to the
pipeline's recurrent networks: logistic regression and 1-NN on the raw samples, and ROCKET
(Dempster et al. 2020: random dilated convolution kernels, proportion-of-positive-values and max
features, a ridge classifier), a top entry of the UCR benchmarks.

ROCKET is written out here in NumPy (a page of code) rather than taken from sktime or aeon, which
would bring numba into the project for one benchmark.

    python benchmarks/ecg_reference_methods.py [--data ../shared/datasets/ecg5000] [--kernels 2000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeClassifierCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from pipeline.datasets.ecg5000 import UCR_LAYOUT, UCR_TEST, UCR_TRAIN, read_beats

NORMAL = 1  # UCR beat class 1


def read_ucr(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's own parser; a file with unusable rows is refused, not silently cut."""
    beats, issues = read_beats(path, UCR_LAYOUT)
    if issues:
        raise SystemExit(f"{path}: {len(issues)} unusable rows, first: {issues[0]}")
    return beats.samples, beats.labels


def random_kernels(count: int, length: int, rng: np.random.Generator) -> list[tuple]:
    """ROCKET's kernels: length 7, 9 or 11, centred normal weights, uniform bias, exponential
    dilation up to the series length, padding on half of them."""
    kernels = []
    for _ in range(count):
        size = int(rng.choice([7, 9, 11]))
        weights = rng.normal(size=size)
        dilation = int(2 ** rng.uniform(0, np.log2((length - 1) / (size - 1))))
        padding = (size - 1) * dilation // 2 if rng.integers(2) else 0
        kernels.append((weights - weights.mean(), rng.uniform(-1, 1), dilation, padding))
    return kernels


def rocket_features(x: np.ndarray, kernels: list[tuple]) -> np.ndarray:
    columns = []
    for weights, bias, dilation, padding in kernels:
        padded = np.pad(x, ((0, 0), (padding, padding)))
        steps = padded.shape[1] - (len(weights) - 1) * dilation
        response = np.full((len(x), steps), bias)
        for tap, weight in enumerate(weights):
            response += weight * padded[:, tap * dilation : tap * dilation + steps]
        columns.append(np.stack([(response > 0).mean(axis=1), response.max(axis=1)], axis=1))
    return np.hstack(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared/datasets/ecg5000")
    parser.add_argument("--kernels", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    x_train, y_train = read_ucr(args.data / UCR_TRAIN)
    x_test, y_test = read_ucr(args.data / UCR_TEST)

    kernels = random_kernels(args.kernels, x_train.shape[1], np.random.default_rng(args.seed))
    scaler = StandardScaler().fit(rocket_features(x_train, kernels))
    rocket_train = scaler.transform(rocket_features(x_train, kernels))
    rocket_test = scaler.transform(rocket_features(x_test, kernels))
    raw = StandardScaler().fit(x_train)
    methods = {
        "logistic regression (raw)": (LogisticRegression(max_iter=5000),
                                      raw.transform(x_train), raw.transform(x_test)),
        "1-NN Euclidean (raw)": (KNeighborsClassifier(1), x_train, x_test),
        f"ROCKET {args.kernels} kernels + ridge": (
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
