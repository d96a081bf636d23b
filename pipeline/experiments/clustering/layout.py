"""Where the train stage puts each fitted model, and the list of them the later stages read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.core.outputs import read_json, write_json_atomic
from pipeline.experiments.clustering.clusters import Clusterings

MODELS_FILE = "models.json"
CLUSTERS_FILE = "clusters.npz"


def model_folder(task: str, mode: str, seed: int) -> str:
    return f"{task}/{mode}/seed_{seed}"


def save_models_list(folder: Path, runs: list[dict]) -> None:
    """``runs``: one ``{"task", "mode", "seed", "folder"}`` per fitted autoencoder."""
    write_json_atomic(folder / MODELS_FILE, runs)


def read_models_list(folder: Path) -> list[dict]:
    runs = read_json(folder / MODELS_FILE)
    if runs is None:
        raise PipelineError(f"{folder / MODELS_FILE} is missing: run the train stage first")
    return runs


def save_clusterings(folder: Path, clusterings: Clusterings) -> None:
    np.savez(folder / CLUSTERS_FILE, **clusterings.arrays())


def load_clusterings(folder: Path) -> Clusterings:
    with np.load(folder / CLUSTERS_FILE) as arrays:
        return Clusterings.from_arrays(dict(arrays))
