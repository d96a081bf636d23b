"""Loading and validating ``params.yaml``.

The file has a few shared sections (``seed``, ``data``, ``mlflow``) and one section per
experiment. Shared sections are validated here; each experiment's section is validated by the
``Params`` model of its ``params.py``, so a typo, a wrong type or an out-of-range value stops a
stage at once with the dotted key that is wrong.

An experiment's section may hold named ``presets``: partial sections merged over the base
section when ``<experiment>.preset`` names one
(``dvc exp run -S mnist.preset=report_d_fixed_cnn``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.core.errors import ParamsError


class StrictModel(BaseModel):
    """A params section: unknown keys are errors, values are checked, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(StrictModel):
    synthetic: bool = Field(
        description="Replace every download with a small generated stand-in."
    )


class MlflowParams(StrictModel):
    tracking_uri: str | None = Field(
        description="Where runs are logged. Default: $MLFLOW_TRACKING_URI, else the SQLite "
        "file mlflow.db at the repository root.",
    )


class SharedParams(StrictModel):
    seed: int = Field(ge=0, le=2**31 - 1)
    data: DataParams
    mlflow: MlflowParams


def read_params_file(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as error:
        raise ParamsError(f"{path}: file not found") from error
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def validate(model: type[BaseModel], values: Any, *, where: str, prefix: str = "") -> Any:
    """Validate ``values`` against ``model``, turning pydantic's errors into a ParamsError
    that names each offending key as a dotted path (``mnist.train.epochs``)."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        problems: dict[str, list[str]] = {}
        for item in error.errors():
            key_parts = [str(part) for part in item["loc"] if not _is_union_branch(part)]
            key = ".".join(part for part in (prefix, *key_parts) if part)
            if item["type"] == "missing":
                problems.setdefault(key, []).append(
                    "missing key (params.yaml holds every key: there are no defaults in code)")
            elif item["type"] == "extra_forbidden" and len(key_parts) == len(item["loc"]):
                allowed = ", ".join(sorted(_field_names(model, item["loc"][:-1])))
                problems.setdefault(key, []).append(f"unknown key (allowed here: {allowed})")
            else:
                problems.setdefault(key, []).append(f"{item['msg']} (got {item.get('input')!r})")
        lines = [
            f"  {key}: {messages[0]}" if len(messages) == 1
            else f"  {key}: matches none of the allowed forms ({'; '.join(messages[:3])} ...)"
            for key, messages in problems.items()
        ]
        raise ParamsError(f"{where}: invalid parameters:\n" + "\n".join(lines)) from None


def _is_union_branch(part: Any) -> bool:
    """pydantic names the branch of a union it tried (``int``, ``ChoiceSpec``, a
    discriminator's tag...) in ``loc``; params keys are snake_case, models and tags are not."""
    text = str(part)
    return text in {"int", "float", "bool", "str"} or text[:1].isupper() or "[" in text


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model at ``loc``, for 'allowed keys' hints."""
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return list(getattr(current, "model_fields", {}))


REPLACED_BY_PRESETS = frozenset({"search_space"})


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``override`` merged in, mappings merged key by key, except a
    ``search_space``, which a preset replaces whole (a preset defines its own space)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if (isinstance(value, dict) and isinstance(merged.get(key), dict)
                and key not in REPLACED_BY_PRESETS):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_presets(section: dict[str, Any], *, where: str, name: str) -> dict[str, Any]:
    """Apply ``section['preset']`` (a key of ``section['presets']``) over the section."""
    section = dict(section)
    presets = section.pop("presets", None) or {}
    preset = section.pop("preset", "default")
    if preset in (None, "default"):
        return section
    if preset not in presets:
        available = ", ".join(["default", *sorted(presets)])
        raise ParamsError(
            f"{where}: {name}.preset: unknown preset {preset!r} (available: {available})"
        )
    return deep_merge(section, presets[preset])


EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def experiment_names() -> list[str]:
    """The experiments of the package: the folders of ``pipeline/experiments`` with a
    ``params.py`` (found on disk, nothing imported)."""
    return sorted(path.parent.name for path in EXPERIMENTS.glob("*/params.py"))


def load_shared_params(path: Path) -> SharedParams:
    """The shared sections, after checking that every top-level key is one of them or an
    experiment's section (a typo of ``seed`` or of a section would otherwise be ignored)."""
    raw = read_params_file(path)
    allowed = [*SharedParams.model_fields, *experiment_names()]
    unknown = sorted(str(key) for key in raw if key not in allowed)
    if unknown:
        raise ParamsError(f"{path}: invalid parameters:\n" + "\n".join(
            f"  {key}: unknown top-level key (allowed: {', '.join(sorted(allowed))})"
            for key in unknown))
    shared = {key: raw[key] for key in SharedParams.model_fields if key in raw}
    return validate(SharedParams, shared, where=str(path))


def load_experiment_params(path: Path, experiment: str, model: type[BaseModel]) -> Any:
    """The validated, preset-resolved params section of ``experiment``."""
    raw = read_params_file(path)
    if experiment not in raw:
        raise ParamsError(f"{path}: no section {experiment!r} (each experiment needs one)")
    section = raw[experiment]
    if not isinstance(section, dict):
        raise ParamsError(
            f"{path}: {experiment}: expected a mapping, got {type(section).__name__}")
    return validate(
        model,
        resolve_presets(section, where=str(path), name=experiment),
        where=str(path),
        prefix=experiment,
    )
