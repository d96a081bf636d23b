"""The two file layouts of ECG5000's beats, read row by row: unusable rows and beats repeated
across files are reported with their file and line, never silently kept; and the content
fingerprint that identifies the official UCR files whatever their number formatting."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.errors import DataError
from pipeline.experiments.ecg5000.layout import SAMPLES, UCR_TEST, UCR_TRAIN

# sha256 of the parsed labels (little-endian int64) then samples (little-endian float64, C
# order) of each official file, measured on the copies in ../shared/datasets/ecg5000.
UCR_FINGERPRINTS = {
    UCR_TRAIN: "90cc2d3ae0a19f5fce22f25a48dca9b1f4d7214c640a9cead8d19a034a96e15a",
    UCR_TEST: "9d70a76ee1a85609281558d79711cebc70e51569a62a4ba255ae2e324caec3c7",
}


@dataclass(frozen=True)
class Layout:
    """Where the label sits in a row and how cells are separated; ``label_delimiter`` sets
    the label apart (``.ts``: ``v1,...,v140:label``) and ``header_end`` is the line that ends
    a header (``.ts``: ``@data``)."""

    delimiter: str
    label_first: bool
    labels: frozenset[int]
    label_delimiter: str | None = None
    header_end: str | None = None


UCR_LAYOUT = Layout("\t", label_first=True, labels=frozenset(range(1, 6)))
CSV_LAYOUT = Layout(",", label_first=False, labels=frozenset({0, 1}))
# the archive's own format, what aeon reads (timeseriesclassification.com's ECG5000.zip)
TS_LAYOUT = Layout(",", label_first=False, labels=frozenset(range(1, 6)), label_delimiter=":",
                   header_end="@data")


@dataclass(frozen=True)
class Issue:
    file: str
    row: int  # 1-based line number in the file
    problem: str


@dataclass(frozen=True)
class Beats:
    """The usable rows of one file: samples (N, 140) float64, labels (N,), their line numbers."""

    samples: np.ndarray
    labels: np.ndarray
    rows: np.ndarray


def read_beats(path: Path, layout: Layout) -> tuple[Beats, list[Issue]]:
    """Parse every line; a row with the wrong number of cells, a non-numeric or empty cell,
    a NaN or infinite sample, or a label outside ``layout.labels`` is left out and reported
    as an :class:`Issue` naming the file and line."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot be read as text ({error})") from error
    samples, labels, rows, issues = [], [], [], []
    lines = list(enumerate(text.splitlines(), start=1))
    if layout.header_end is not None:
        ends = [index for index, (_, line) in enumerate(lines)
                if line.strip().lower() == layout.header_end]
        if not ends:
            raise DataError(f"{path}: no {layout.header_end} line ends the header")
        lines = lines[ends[0] + 1:]
    for number, line in lines:
        problem, values = _parse_row(line, layout)
        if problem is not None:
            issues.append(Issue(path.name, number, problem))
            continue
        label, beat = (values[0], values[1:]) if layout.label_first else (values[-1], values[:-1])
        samples.append(beat)
        labels.append(int(label))
        rows.append(number)
    if not rows and not issues:
        raise DataError(f"{path}: the file holds no rows")
    beats = Beats(
        np.asarray(samples, dtype="float64").reshape(-1, SAMPLES),
        np.asarray(labels, dtype="int64"),
        np.asarray(rows, dtype="int64"),
    )
    return beats, issues


def _parse_row(line: str, layout: Layout) -> tuple[str | None, list[float]]:
    """(problem or None, the row's numbers)."""
    if not line.strip():
        return "empty line", []
    if layout.label_delimiter is not None:
        body, found, label = line.strip().rpartition(layout.label_delimiter)
        if not found:
            return f"no {layout.label_delimiter!r} before the label", []
        line = f"{body}{layout.delimiter}{label}"
    cells = line.strip().split(layout.delimiter)
    if len(cells) != SAMPLES + 1:
        return f"{len(cells)} cells, expected {SAMPLES + 1} (label and {SAMPLES} samples)", []
    values = []
    for column, cell in enumerate(cells, start=1):
        try:
            value = float(cell)
        except ValueError:
            shown = cell.strip()[:20]
            return (f"column {column}: " + (f"not a number ({shown!r})" if shown else "empty"),
                    [])
        if not math.isfinite(value):
            return f"column {column}: {cell.strip()} is not a finite number", []
        values.append(value)
    label = values[0] if layout.label_first else values[-1]
    if not label.is_integer() or int(label) not in layout.labels:
        allowed = ", ".join(str(item) for item in sorted(layout.labels))
        return f"label {label:g} is not one of {allowed}", []
    return None, values


def duplicate_issues(files: Sequence[tuple[str, Beats]]) -> tuple[list[np.ndarray], list[Issue]]:
    """Beats identical (all 140 samples) to an earlier beat, in the same file or an earlier
    one: a later copy is left out, so a beat can never sit in two splits. Returns, per file,
    the mask of beats kept."""
    first_seen: dict[bytes, tuple[str, int, int]] = {}
    keep, issues = [], []
    for name, beats in files:
        mask = np.ones(len(beats.labels), dtype=bool)
        for index, (beat, label, row) in enumerate(
            zip(beats.samples, beats.labels, beats.rows, strict=True)
        ):
            key = np.ascontiguousarray(beat).tobytes()
            if key in first_seen:
                where, first_row, first_label = first_seen[key]
                conflict = "" if first_label == label else f" with another label ({first_label})"
                issues.append(
                    Issue(name, int(row), f"duplicate of {where} row {first_row}{conflict}")
                )
                mask[index] = False
            else:
                first_seen[key] = (name, int(row), int(label))
        keep.append(mask)
    return keep, issues


def fingerprint(labels: np.ndarray, samples: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(samples, dtype="<f8").tobytes())
    return digest.hexdigest()


def write_ucr_file(path: Path, samples: np.ndarray, labels: np.ndarray) -> None:
    """The UCR TSV layout: class, then the samples; no header. Every value written as its
    shortest exact decimal, so the file reads back to the same numbers (and fingerprint)."""
    with path.open("w") as out:
        for label, beat in zip(labels, samples, strict=True):
            out.write("\t".join([str(int(label)), *(repr(float(v)) for v in beat)]) + "\n")


def ucr_fingerprint(path: Path) -> str | None:
    """The content fingerprint of a UCR file; None when it has any unusable row."""
    try:
        beats, issues = read_beats(path, UCR_LAYOUT)
    except DataError:
        return None
    return None if issues else fingerprint(beats.labels, beats.samples)
