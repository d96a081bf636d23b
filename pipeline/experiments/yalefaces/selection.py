"""Each selection set's choice, as tune writes it and train reads it: the trial with the best
inner score on that set, its hyperparameters and the epochs every network trains for."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.core.errors import PipelineError

SELECTION_FILE = "selection.json"


def write_selection(folder: Path, epochs: int, sets: Mapping[str, Mapping[str, Any]]) -> None:
    (folder / SELECTION_FILE).write_text(json.dumps(
        {"epochs": epochs, "sets": sets}, indent=2, sort_keys=True))


def read_selection(folder: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    """The epochs and, per selection set, its choice (``hyperparameters``, ``trial_id``,
    ``inner_accuracy``, ``inner_loss``)."""
    path = folder / SELECTION_FILE
    if not path.is_file():
        raise PipelineError(f"{path} is missing: run the tune stage first")
    selection = json.loads(path.read_text())
    return selection["epochs"], selection["sets"]
