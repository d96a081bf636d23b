"""``dataset.csv``: reading and checking it, recognising the real file, choosing the images to
fetch, and writing a generated one in its exact format (synthetic mode, tests)."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.errors import DataError, ParamsError
from pipeline.experiments.grazpedwri_dx.layout import PROJECTIONS, REQUESTED_FILE
from pipeline.experiments.grazpedwri_dx.params import METADATA_FILE
from pipeline.ml.grouped_splits import grouped_stratified_sample

COLUMNS = (
    "filestem", "patient_id", "study_number", "timehash", "gender", "age", "laterality",
    "projection", "initial_exam", "ao_classification", "cast", "diagnosis_uncertain",
    "osteopenia", "fracture_visible", "metal", "pixel_spacing", "device_manufacturer",
)
REQUIRED_COLUMNS = (
    "filestem", "patient_id", "gender", "age", "laterality", "projection", "cast",
    "diagnosis_uncertain", "fracture_visible", "metal",
)
FLAG_COLUMNS = ("initial_exam", "cast", "diagnosis_uncertain", "osteopenia", "fracture_visible",
                "metal")
# The real dataset.csv: a mirror copy without figshare's md5 is accepted when it has these.
REAL_ROWS, REAL_PATIENTS, REAL_POSITIVES = 20_327, 6_091, 13_550


def read_metadata(path: Path) -> pd.DataFrame:
    """``dataset.csv`` checked and typed: flags 0/1 (blank = 0), ``label`` = fracture_visible.

    Errors name the file, the line and the column.
    """
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; run the download stage") from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from None
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing} (found {list(frame.columns)})")
    frame = frame.apply(lambda column: column.str.strip())

    def bad(column: str, rows: np.ndarray, expected: str) -> DataError:
        lines = ", ".join(str(row + 2) for row in rows[:5])  # line 1 is the header
        return DataError(f"{path}, line {lines}: column {column} holds "
                         f"{frame[column].iloc[rows[0]]!r}; expected {expected}")

    for column in FLAG_COLUMNS:
        if column in frame.columns:
            values = frame[column].replace({"": "0", "1.0": "1", "0.0": "0"})
            wrong = np.flatnonzero(~values.isin(["0", "1"]).to_numpy())
            if len(wrong):
                raise bad(column, wrong, "blank (0) or 1")
            frame[column] = values.astype(np.int8)
    for column, kind, expected in (("patient_id", "integer", "an integer"),
                                   ("projection", "integer", "1, 2 or 3"),
                                   ("age", "float", "a number of years")):
        numbers = pd.to_numeric(frame[column], errors="coerce")
        wrong = np.flatnonzero(numbers.isna().to_numpy())
        if kind == "integer":
            wrong = np.union1d(wrong, np.flatnonzero((numbers % 1 != 0).to_numpy()))
        if column == "projection":
            wrong = np.union1d(wrong, np.flatnonzero(~numbers.isin(list(PROJECTIONS)).to_numpy()))
        if len(wrong):
            raise bad(column, wrong, expected)
        frame[column] = numbers.astype(np.int64 if kind == "integer" else np.float64)
    empty = np.flatnonzero((frame["filestem"] == "").to_numpy())
    if len(empty):
        raise bad("filestem", empty, "a file name stem")
    duplicated = np.flatnonzero(frame["filestem"].duplicated(keep=False).to_numpy())
    if len(duplicated):
        raise bad("filestem", duplicated, "each image once")
    frame["label"] = frame["fracture_visible"].astype(np.int64)
    return frame


def is_real_metadata(path: Path) -> bool:
    """Whether ``path`` is the complete GRAZPEDWRI-DX ``dataset.csv`` (row, patient and label
    counts, byte-order mark): accepts a mirror copy when figshare's md5 is unavailable."""
    try:
        with path.open("rb") as stream:
            bom = stream.read(3) == b"\xef\xbb\xbf"
        frame = read_metadata(path)
    except (OSError, DataError):
        return False
    return (bom and tuple(frame.columns[: len(COLUMNS)]) == COLUMNS
            and len(frame) == REAL_ROWS and frame["patient_id"].nunique() == REAL_PATIENTS
            and int(frame["label"].sum()) == REAL_POSITIVES)


def select_images(frame: pd.DataFrame, count: int | None, include: Sequence[str],
                  seed: int, *, where: str) -> list[str]:
    """Stems of every image, or of about ``count`` images made of whole patients and
    stratified by label, plus ``include``."""
    unknown = sorted(set(include) - set(frame["filestem"]))
    if unknown:
        raise ParamsError(f"{where}: images not in {METADATA_FILE}: {unknown[:5]}")
    if count is None:
        chosen = np.arange(len(frame))
    else:
        chosen = grouped_stratified_sample(frame["label"].to_numpy(),
                                           frame["patient_id"].to_numpy(), count, seed)
    stems = set(frame["filestem"].iloc[chosen]) | set(include)
    return sorted(stems)


def write_requested(folder: Path, stems: Sequence[str]) -> None:
    pd.DataFrame({"filestem": list(stems)}).to_csv(folder / REQUESTED_FILE, index=False)


def read_requested(folder: Path) -> list[str]:
    """The stems the download stage was asked for."""
    return pd.read_csv(folder / REQUESTED_FILE, dtype=str)["filestem"].tolist()


def generate_metadata(images: int, rng: np.random.Generator) -> list[dict[str, str]]:
    """Rows in dataset.csv's format for about ``images`` images: patients with one to three
    studies of two projections each; about 60 % of patients have a fracture, visible on most
    of their images."""
    rows: list[dict[str, str]] = []
    patient = 0
    while len(rows) < images:
        patient += 1
        gender, side = str(rng.choice(["M", "F"])), str(rng.choice(["L", "R"]))
        age = float(np.round(rng.uniform(1.0, 18.0), 1))
        fractured = rng.random() < 0.6
        for study in range(1, int(rng.integers(1, 4)) + 1):
            for projection in (1, 2):
                timehash = int(rng.integers(10**8, 10**10))
                visible = fractured and rng.random() < 0.9
                rows.append({
                    "filestem": f"{patient:04d}_{timehash:010d}_{study:02d}_WRI-{side}"
                                f"{projection}_{gender}{int(age):03d}",
                    "patient_id": str(patient), "study_number": str(study),
                    "timehash": str(timehash), "gender": gender, "age": f"{age:.1f}",
                    "laterality": side, "projection": str(projection),
                    "initial_exam": "1" if study == 1 else "",
                    "ao_classification": "23r-M/2.1" if fractured else "",
                    "cast": "1" if fractured and study > 1 else "",
                    "diagnosis_uncertain": "1" if rng.random() < 0.03 else "",
                    "osteopenia": "", "fracture_visible": "1" if visible else "",
                    "metal": "1" if rng.random() < 0.03 else "",
                    "pixel_spacing": "0.144", "device_manufacturer": "Siemens",
                })
    return rows


def write_metadata(path: Path, rows: Sequence[Mapping[str, str]]) -> None:
    """As figshare's file: UTF-8 with a byte-order mark, CRLF line ends, blank for 0."""
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
