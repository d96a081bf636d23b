"""The UCR/UEA archive's ``ECG5000.zip`` in its real layout (as timeseriesclassification.com
serves it for aeon's loader): the split as ``.ts``, ``.txt`` and ``.arff`` files, each value
the same decimal text as in the TSV copy it is built from."""

from __future__ import annotations

import zipfile
from pathlib import Path

TS_HEADER = """#The ECG5000 heartbeats (BIDMC chf07), 500 train, 4500 test, 5 classes
@problemName ECG5000
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 140
@classLabel true 1 2 3 4 5
@data
"""


def _rows(tsv: Path) -> list[tuple[str, list[str]]]:
    """(label, values) of each row of a UCR TSV, as text."""
    rows = []
    for line in tsv.read_text().splitlines():
        label, *values = line.split("\t")
        rows.append((str(int(float(label))), values))
    return rows


def write_archive(path: Path, train_tsv: Path, test_tsv: Path) -> Path:
    """``path`` as the archive's zip of the two TSVs' content."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for split, tsv in (("TRAIN", train_tsv), ("TEST", test_tsv)):
            rows = _rows(tsv)
            archive.writestr(f"ECG5000_{split}.ts", TS_HEADER + "".join(
                ",".join(values) + f":{label}\n" for label, values in rows))
            archive.writestr(f"ECG5000_{split}.txt", "".join(
                "  ".join([f"{float(label):.7e}", *values]) + "\n" for label, values in rows))
            attributes = "".join(f"@attribute att{i} numeric\n" for i in range(140))
            archive.writestr(f"ECG5000_{split}.arff", (
                "@relation ECG5000\n\n" + attributes + "@attribute target {1,2,3,4,5}\n\n@data\n"
                + "".join(",".join([*values, label]) + "\n" for label, values in rows)))
    return path
