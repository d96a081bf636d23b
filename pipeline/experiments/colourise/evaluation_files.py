"""What evaluate writes and explain reads (explain never reads the test split): the methods'
names, the per-image table, and the test images kept to be shown (the model's best and worst
by chroma error and a random few, each as gray input, the model's colourisation and the
truth), in files whose bytes depend on the content alone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError

# the headline names: the model's figures bare, the baselines' prefixed
PREFIXES = {"model": "", "gray_copy": "baseline_gray_copy_",
            "mean_colour": "baseline_mean_colour_"}
PER_IMAGE_FILE = "per_image.csv"
PANELS = ("gray", "predicted", "true")
_INDEX = "examples.json"


@dataclass(frozen=True)
class Examples:
    """``images``: uint8 (K, 3, H, W, 3), the ``PANELS`` of each example."""

    images: np.ndarray
    names: list[str]
    classes: list[str]
    chroma_error: list[float]


def pick(errors: np.ndarray, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Indices of the ``count`` lowest, highest and random chroma errors (best first)."""
    order = np.argsort(errors, kind="stable")
    return {"best": order[:count], "worst": order[::-1][:count],
            "random": np.sort(rng.choice(len(errors), min(count, len(errors)), replace=False))}


def as_uint8(images: np.ndarray) -> np.ndarray:
    return np.round(np.clip(images, 0, 1) * 255).astype("uint8")


def save_examples(folder: Path, groups: dict[str, Examples]) -> None:
    index = {}
    for group, examples in groups.items():
        np.save(folder / f"examples_{group}.npy", examples.images)
        index[group] = {"names": examples.names, "classes": examples.classes,
                        "chroma_error": examples.chroma_error}
    (folder / _INDEX).write_text(json.dumps(index, indent=1))


def load_examples(folder: Path) -> dict[str, Examples]:
    path = folder / _INDEX
    if not path.is_file():
        raise PipelineError(f"{path} is missing: run the evaluate stage first")
    index = json.loads(path.read_text())
    return {group: Examples(np.load(folder / f"examples_{group}.npy"), **fields)
            for group, fields in index.items()}
