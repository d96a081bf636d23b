"""Hyperparameters read from a search space, and the best values a search found.

The specs are declared in :mod:`pipeline.ml.params`. A model builder reads hyperparameters
through :func:`hyperparameter`, so the same builder serves the search (``hp`` from the tuner)
and the final training (``hp`` rebuilt from the best values, :func:`fixed_hyperparameters`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras_tuner as kt

from pipeline.core.errors import PipelineError
from pipeline.ml.params import ChoiceSpec, RangeSpec

BEST_HYPERPARAMETERS = "best_hyperparameters.json"

def hyperparameter(
    hp: kt.HyperParameters, name: str, space: Mapping[str, Any], default: Any = None
) -> Any:
    """Declare ``name`` on ``hp`` from its spec in ``space`` and return its value.

    ``space[name]`` falls back to ``default`` (a spec too) when the space does not mention it.
    """
    spec = space.get(name, default)
    if spec is None:
        raise KeyError(f"search space has no {name!r} and no default was given")
    if isinstance(spec, dict):
        spec = (ChoiceSpec if "values" in spec else RangeSpec).model_validate(spec)
    if isinstance(spec, ChoiceSpec):
        return hp.Choice(name, spec.values)
    if isinstance(spec, RangeSpec):
        if spec.is_integer:
            return hp.Int(name, int(spec.min), int(spec.max), step=int(spec.step or 1))
        return hp.Float(name, spec.min, spec.max, step=spec.step, sampling=spec.sampling)
    return hp.Fixed(name, spec)


def space_values(space: Mapping[str, Any], name: str, default: Any) -> list[Any]:
    """Every value a hyperparameter can take in the space (a fixed value, or the choices)."""
    spec = space.get(name, default)
    if isinstance(spec, dict) and "values" in spec:
        return list(spec["values"])
    return list(spec.values) if isinstance(spec, ChoiceSpec) else [spec]


def fixed_hyperparameters(values: Mapping[str, Any]) -> kt.HyperParameters:
    """HyperParameters holding exactly ``values`` (the best trial's), for retraining."""
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


def write_best(folder: Path, values: Mapping[str, Any]) -> None:
    (folder / BEST_HYPERPARAMETERS).write_text(json.dumps(dict(values), indent=2,
                                                          sort_keys=True))


def read_best(folder: Path) -> dict[str, Any]:
    """The best values the tune stage wrote to ``folder``."""
    path = folder / BEST_HYPERPARAMETERS
    if not path.is_file():
        raise PipelineError(f"{path} is missing: run the tune stage first")
    return json.loads(path.read_text())
