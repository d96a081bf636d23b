"""Tables of numbers on disk: CSV files written with 17 significant digits and read back
exactly (round-trip parsing), every value checked, so a damaged file fails with the file, the
line and the column instead of feeding NaN into a model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError


def write_numeric_table(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    pd.DataFrame(dict(columns)).to_csv(path, index=False, float_format="%.17g")


def read_numeric_table(path: Path, columns: Sequence[str], *, rows: int | None = None,
                       counter: str | None = None) -> dict[str, np.ndarray]:
    """``columns`` of the CSV at ``path``, each a float array: all present, every value a
    finite number, ``rows`` rows if given, and the column ``counter`` (if given) counting
    0, 1, 2, ... A DataError names the file and the first problem otherwise."""
    try:
        frame = pd.read_csv(path, float_precision="round_trip")
    except (OSError, ValueError) as error:  # missing, empty or unparsable file
        raise DataError(f"{path}: cannot be read as CSV ({error})") from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; expected {list(columns)}")
    if rows is not None and len(frame) != rows:
        raise DataError(f"{path}: {len(frame)} rows, expected {rows}")
    table = {}
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataError(f"{path}: line {bad[0] + 2} (data row {bad[0]}), column {column!r}: "
                            f"{frame[column].iloc[bad[0]]!r} is not a finite number "
                            f"({bad.size} such rows)")
        table[column] = values
    if counter is not None:
        wrong = np.flatnonzero(table[counter] != np.arange(len(frame)))
        if wrong.size:
            raise DataError(f"{path}: column {counter!r} should count 0, 1, 2, ... but data "
                            f"row {wrong[0]} holds {table[counter][wrong[0]]:g}")
    return table
