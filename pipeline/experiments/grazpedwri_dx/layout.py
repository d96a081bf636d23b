"""What the stages hand to each other beyond the shared files, the codes in it, and reading it.

* raw (download): ``dataset.csv``, ``images/<stem>.png`` (the 16-bit originals),
  ``requested.csv`` (the stems the download was asked for) and, synthetic only, ``marks.csv``
  (where the fracture-like marks were drawn);
* processed (preprocess): ``split.csv`` (every row's split), one manifest ``<split>.csv`` per
  split (file, label, kept metadata, geometry, marks), the prepared squares
  ``images/<split>/<stem>.png``, ``prepared.json`` (size and intensity window) and
  ``bad_images.csv``;
* tune and models: ``model_info.json`` (the backbones' weights; the trained architecture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.errors import PipelineError

IMAGES = "images"
REQUESTED_FILE = "requested.csv"
MARKS_FILE = "marks.csv"
MARK_COLUMNS = ("x0", "y0", "x1", "y1")
PREPARED_INFO = "prepared.json"
MODEL_INFO = "model_info.json"
SPLITS = ("train", "validation", "test")
CLASSES = ["no_fracture", "fracture"]  # the manifests' label: dataset.csv's fracture_visible
PROJECTIONS = {1: "pa_ap", 2: "lateral", 3: "other"}  # dataset.csv's projection codes
FEATURES_LAYER = "features"  # the model's last convolutional feature map, where Grad-CAM looks


def read_split(processed: Path, split: str) -> pd.DataFrame:
    """The manifest of one split (``file`` made absolute)."""
    path = processed / f"{split}.csv"
    if not path.is_file():
        raise PipelineError(f"{path} is missing: run the preprocess stage first")
    frame = pd.read_csv(path, dtype={"filestem": str})
    frame["file"] = [str(processed / file) for file in frame["file"]]
    return frame


def write_info(path: Path, info: dict[str, Any]) -> None:
    path.write_text(json.dumps(info, indent=2))


def read_info(path: Path) -> dict[str, Any]:
    """``prepared.json`` or a ``model_info.json``, which the stage before wrote."""
    if not path.is_file():
        raise PipelineError(f"{path} is missing: run the stage that writes it first")
    return json.loads(path.read_text())


def prepared_size(processed: Path) -> int:
    return int(read_info(processed / PREPARED_INFO)["size"])
