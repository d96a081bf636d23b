"""The simulated data on disk: documented CSV files, read back with every value checked.

``data/raw/sysid/`` holds

* ``report_regressors.csv``: the report system's drawn rows, columns ``x0, x1, x2, y1, y2``
  (``xi`` is x[k-i], ``yj`` is y[k-j]) and the target ``y`` (y[k], noise included);
* ``stable_identification.csv`` and ``stable_held_out.csv``: the stable system's records,
  columns ``k`` (sample), ``x`` (input), ``y`` (measured output, noise included) and
  ``y_true`` (the noise-free output, for scoring only);
* ``systems.json``: both systems' coefficients, poles and noise, and this description.

Written and read by :mod:`pipeline.ml.numeric_tables`: reading gives back the simulated values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.ml.numeric_tables import read_numeric_table

REGRESSOR_FILE = "report_regressors.csv"
REGRESSOR_COLUMNS = ("x0", "x1", "x2", "y1", "y2", "y")
RECORD_FILES = {"identification": "stable_identification.csv",
                "held_out": "stable_held_out.csv"}
RECORD_COLUMNS = ("k", "x", "y", "y_true")
SYSTEMS_FILE = "systems.json"


def read_regressors(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The report system's rows and targets."""
    table = read_numeric_table(folder / REGRESSOR_FILE, REGRESSOR_COLUMNS)
    return np.column_stack([table[column] for column in REGRESSOR_COLUMNS[:-1]]), table["y"]


def read_record(folder: Path, part: str) -> dict[str, np.ndarray]:
    """One of the stable system's records (``identification`` or ``held_out``)."""
    return read_numeric_table(folder / RECORD_FILES[part], RECORD_COLUMNS, counter="k")
