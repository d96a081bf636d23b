"""The preprocess stage's output, written by preprocess and read by every later stage:
the features, the image table, every repetition's outer folds and every selection set, and
which images each outer fold trains on and holds out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.experiments.yalefaces.layout import CLASSES

ALL_IMAGES = "all"  # the selection set of the deployable model: every image


@dataclass(frozen=True)
class Processed:
    """The preprocess stage's output."""

    features: np.ndarray  # (images, height * width) float32
    table: pd.DataFrame  # per image: image, file, subject, condition, group
    folds: pd.DataFrame  # repeat, protocol, image, outer_fold, block, selection_set
    sets: pd.DataFrame  # selection_set, image, inner_fold
    shape: tuple[int, int]

    @classmethod
    def load(cls, folder: Path) -> Processed:
        meta = json.loads((folder / "meta.json").read_text())
        return cls(
            np.load(folder / "features.npy"),
            pd.read_csv(folder / "images.csv", index_col="index"),
            pd.read_csv(folder / "folds.csv"),
            pd.read_csv(folder / "selection_sets.csv"),
            (meta["height"], meta["width"]),
        )

    def save(self, folder: Path) -> None:
        np.save(folder / "features.npy", self.features)
        self.table.to_csv(folder / "images.csv", index_label="index")
        self.folds.to_csv(folder / "folds.csv", index=False)
        self.sets.to_csv(folder / "selection_sets.csv", index=False)
        height, width = self.shape
        (folder / "meta.json").write_text(json.dumps(
            {"height": height, "width": width, "classes": CLASSES}, indent=2))

    @property
    def labels(self) -> np.ndarray:
        return (self.table["subject"].to_numpy() - 1).astype("int32")

    def members(self, selection_set: str) -> pd.DataFrame:
        return self.sets[self.sets["selection_set"] == selection_set]

    def outer_folds(self) -> list[tuple[int, str, int, str]]:
        """(repeat, protocol, outer fold, selection set) of every outer fold."""
        unique = self.folds.drop_duplicates(["repeat", "protocol", "outer_fold"])
        return list(unique[["repeat", "protocol", "outer_fold", "selection_set"]]
                    .itertuples(index=False, name=None))

    def classes_of(self, images: np.ndarray) -> np.ndarray:
        """0/1 over the 15 classes: those among ``images``."""
        mask = np.zeros(len(CLASSES), "float32")
        mask[np.unique(self.labels[images])] = 1.0
        return mask


def training_images(folds: pd.DataFrame, repeat: int, protocol: str,
                    outer_fold: int) -> np.ndarray:
    """The images an outer fold trains on: its protocol's images but the held-out ones."""
    rows = folds[(folds["repeat"] == repeat) & (folds["protocol"] == protocol)]
    return rows.loc[rows["outer_fold"] != outer_fold, "image"].to_numpy()


def held_out_images(folds: pd.DataFrame, repeat: int, protocol: str,
                    outer_fold: int) -> np.ndarray:
    """The images an outer fold holds out (one group, or one k-fold block)."""
    rows = folds[(folds["repeat"] == repeat) & (folds["protocol"] == protocol)]
    return rows.loc[rows["outer_fold"] == outer_fold, "image"].to_numpy()
