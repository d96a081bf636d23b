"""The simulated data on disk: documented CSV files, read back with every value checked.

``data/raw/sysid/`` holds

* ``report_regressors.csv``: the report system's drawn rows, columns ``x0, x1, x2, y1, y2``
  (``xi`` is x[k-i], ``yj`` is y[k-j]) and the target ``y`` (y[k], noise included);
* ``stable_identification.csv`` and ``stable_held_out.csv``: the stable system's records,
  columns ``k`` (sample), ``x`` (input), ``y`` (measured output, noise included) and
  ``y_true`` (the noise-free output, for scoring only);
* ``systems.json``: both systems' coefficients, poles and noise, and this description.

Floats are written with 17 significant digits, so reading gives back the simulated values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError

REGRESSOR_FILE = "report_regressors.csv"
REGRESSOR_COLUMNS = ("x0", "x1", "x2", "y1", "y2", "y")
RECORD_FILES = {"identification": "stable_identification.csv",
                "held_out": "stable_held_out.csv"}
RECORD_COLUMNS = ("k", "x", "y", "y_true")
SYSTEMS_FILE = "systems.json"


def write_table(path: Path, columns: dict[str, np.ndarray]) -> None:
    pd.DataFrame(columns).to_csv(path, index=False, float_format="%.17g")


def read_table(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """``path`` with exactly ``columns``, every value a finite number; a DataError names the
    file and the first bad column or row otherwise."""
    if not path.is_file():
        raise DataError(f"{path} is missing: run the download stage (`dvc repro sysid-download`)")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from error
    if list(frame.columns) != list(columns):
        raise DataError(f"{path}: columns are {list(frame.columns)}, expected {list(columns)}")
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad_rows = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if len(bad_rows):
        row = int(bad_rows[0])
        column = columns[int(np.flatnonzero(~np.isfinite(values[row]))[0])]
        raise DataError(f"{path}: line {row + 2} (data row {row + 1}), column "
                        f"{column!r}: {frame.iloc[row][column]!r} is not a finite number "
                        f"({len(bad_rows)} such rows)")
    return pd.DataFrame(values, columns=list(columns))


def read_regressors(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The report system's rows and targets."""
    frame = read_table(folder / REGRESSOR_FILE, REGRESSOR_COLUMNS)
    return frame[list(REGRESSOR_COLUMNS[:-1])].to_numpy(), frame["y"].to_numpy()


def read_record(folder: Path, part: str) -> pd.DataFrame:
    """One of the stable system's records (``identification`` or ``held_out``)."""
    path = folder / RECORD_FILES[part]
    frame = read_table(path, RECORD_COLUMNS)
    if not np.array_equal(frame["k"].to_numpy(), np.arange(len(frame))):
        raise DataError(f"{path}: column 'k' must count the samples 0, 1, 2, ... in order")
    return frame
