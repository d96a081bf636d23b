"""The UCR/UEA archive's zip of ECG5000 (``ECG5000.zip`` on timeseriesclassification.com, the
file aeon's loader reads): the official split as ``.ts`` files (beside ``.txt`` and ``.arff``
copies). No checksum is published, so a zip is accepted when its ``.ts`` files parse to the
official split's content fingerprint, whatever its other members or their order."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pipeline.core.errors import DataError, DownloadError
from pipeline.download.archive import extract_archive
from pipeline.experiments.ecg5000.beats import (
    TS_LAYOUT,
    UCR_FINGERPRINTS,
    Beats,
    fingerprint,
    read_beats,
)
from pipeline.experiments.ecg5000.layout import UCR_TEST, UCR_TRAIN

ARCHIVE = "ECG5000.zip"
MEMBERS = {UCR_TRAIN: "ECG5000_TRAIN.ts", UCR_TEST: "ECG5000_TEST.ts"}


def read_split(archive: Path) -> dict[str, Beats]:
    """Both files of the split (keyed by their TSV names), read from the zip; DownloadError
    saying what is wrong. Extracted (safely, with size limits) into the system's temporary
    folder: never beside the archive, which may sit in a read-only mirror."""
    with tempfile.TemporaryDirectory(prefix="ecg5000-") as scratch:
        extract_archive(archive, Path(scratch))
        found = {path.name: path for path in Path(scratch).rglob("*.ts")}
        missing = [member for member in MEMBERS.values() if member not in found]
        if missing:
            raise DownloadError(f"{archive}: no {', '.join(missing)} inside (found .ts files: "
                                f"{sorted(found)})")
        split = {}
        for name, member in MEMBERS.items():
            try:
                beats, issues = read_beats(found[member], TS_LAYOUT)
            except DataError as error:  # named by the scratch copy: name the member instead
                problem = str(error).removeprefix(f"{found[member]}: ")
                raise DownloadError(f"{archive}: {member}: {problem}") from None
            if issues:
                raise DownloadError(f"{archive}: {member} line {issues[0].row}: "
                                    f"{issues[0].problem}")
            split[name] = beats
    return split


def holds_official_split(archive: Path) -> bool:
    """True when the zip holds the official split (by content fingerprint); DownloadError
    naming the file and both fingerprints when it does not."""
    for name, beats in read_split(archive).items():
        got = fingerprint(beats.labels, beats.samples)
        if got != UCR_FINGERPRINTS[name]:
            raise DownloadError(f"{MEMBERS[name]} is not the official one: the sha256 of its "
                                f"parsed labels and samples is {got}, the official "
                                f"{UCR_FINGERPRINTS[name]}")
    return True
