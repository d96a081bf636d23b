"""Outputs that appear only when complete: a staging folder renamed into place, files
written beside their target and moved over it."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.core.errors import DataError
from pipeline.core.paths import STAGES, SYNTHETIC_MARKER, ExperimentPaths


@contextmanager
def staged_output(final: Path) -> Iterator[Path]:
    """An empty folder beside ``final`` that replaces it only if the block succeeds."""
    staging = final.with_name(final.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)


def write_json_atomic(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(partial, path)


def mark_synthetic(folder: Path) -> None:
    """Say on disk that ``folder`` holds generated stand-ins (every later stage reads it)."""
    (folder / SYNTHETIC_MARKER).write_text(
        "Generated stand-in data (data.synthetic: true). Not a real result.\n")


def folder_summary(folder: Path) -> dict[str, int]:
    """How many files ``folder`` holds, and their bytes."""
    files = [path for path in folder.rglob("*") if path.is_file()]
    return {"files": len(files), "bytes": sum(path.stat().st_size for path in files)}


def read_json(path: Path) -> Any:
    """A JSON file a stage wrote; None when it is not there."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from error


def read_stage_metrics(paths: ExperimentPaths, stage: str) -> dict[str, Any] | None:
    """The headline metrics a stage wrote (unwrapped from ``{experiment: ...}``); None when
    the stage has not run."""
    path = paths.metrics_file(stage)
    content = read_json(path)
    if content is None:
        return None
    if not isinstance(content, dict) or not isinstance(content.get(paths.experiment), dict):
        raise DataError(f"{path}: expected {{{paths.experiment!r}: {{...}}}}, the form every "
                        "stage writes")
    return content[paths.experiment]


def record_timings(paths: ExperimentPaths, stage: str, timings: dict[str, float]) -> float:
    """Replace ``stage``'s rows of the timings table and rewrite the experiment's total wall
    time; returns the total."""
    table = paths.timings_file
    rows = [line.split(",") for line in table.read_text().splitlines()[1:]] if (
        table.exists()) else []
    rows = [row for row in rows if row[0] != stage]
    rows += [[stage, name, str(value)] for name, value in sorted(timings.items())]
    order = {name: index for index, name in enumerate(STAGES)}
    rows.sort(key=lambda row: (order.get(row[0], len(order)), row[1]))
    table.parent.mkdir(parents=True, exist_ok=True)
    partial = table.with_name(table.name + ".partial")
    partial.write_text("stage,timing,value\n" + "".join(",".join(row) + "\n" for row in rows))
    os.replace(partial, table)
    total = round(sum(float(value) for stage_, name, value in rows if name == "seconds"), 1)
    write_json_atomic(paths.wall_time_file, {paths.experiment: {"wall_seconds": total}})
    return total


def read_timings(paths: ExperimentPaths, stage: str) -> dict[str, float]:
    """What :func:`record_timings` last recorded for ``stage``."""
    if not paths.timings_file.exists():
        return {}
    rows = [line.split(",") for line in paths.timings_file.read_text().splitlines()[1:]]
    return {name: float(value) for stage_, name, value in rows if stage_ == stage}
