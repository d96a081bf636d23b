"""Stand-in beats for synthetic mode, and the writers of both file layouts (which the download
stage then reads back exactly like downloaded files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.experiments.ecg5000.layout import SAMPLES

# Class shares of the official training file (292, 177, 10, 19, 2 of 500), with a floor so
# that every class can be split into train and validation even in small stand-ins.
SYNTHETIC_SHARES = np.array([0.50, 0.30, 0.07, 0.08, 0.05])


def synthetic_beats(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` z-normalised 140-sample beats of classes 1..5 (like UCR's): a P wave, a QRS
    complex and a T wave as Gaussian bumps whose place, width and sign differ by class, plus
    jitter and noise. Learnable, so tests can check that training works."""
    labels = rng.permutation(
        np.repeat(np.arange(1, 6), np.round(SYNTHETIC_SHARES * count).astype(int))
    )
    t = np.arange(SAMPLES, dtype="float64")
    # (centre, width, height) of the P, R and T waves; class 1 is the normal beat
    waves = {
        1: [(25, 5, 0.4), (45, 3, -3.0), (95, 12, 1.0)],
        2: [(15, 5, 0.2), (30, 6, -3.5), (80, 14, -1.2)],
        3: [(25, 5, 0.0), (50, 8, -2.5), (100, 10, -0.8)],
        4: [(12, 4, 0.8), (38, 3, -3.0), (90, 12, 0.6)],
        5: [(30, 8, 0.6), (60, 5, -2.0), (110, 8, 1.5)],
    }
    beats = np.empty((len(labels), SAMPLES))
    for index, label in enumerate(labels):
        shift = rng.normal(0, 2)
        beat = sum(
            height * rng.uniform(0.8, 1.2) * np.exp(-0.5 * ((t - centre - shift) / width) ** 2)
            for centre, width, height in waves[int(label)]
        )
        beat = beat + rng.normal(0, 0.08, SAMPLES)
        beats[index] = (beat - beat.mean()) / beat.std()
    return beats, labels


def write_csv_file(path: Path, samples: np.ndarray, labels: np.ndarray) -> None:
    """The tutorial's ecg.csv layout: the samples, then the label (1 = normal); no header."""
    with path.open("w") as out:
        for label, beat in zip(labels, samples, strict=True):
            out.write(",".join([*(repr(float(v)) for v in beat), f"{label:.1f}"]) + "\n")
