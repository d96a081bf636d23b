"""download@ecg5000: the official UCR split, or the tutorial's ``ecg.csv``; synthetic mode
writes stand-ins in the same layouts.

UCR (default): a mirror's two TSVs (``ecg5000/ECG5000_TRAIN.tsv`` and ``_TEST.tsv``), else the
archive's zip (the mirror's ``ecg5000/ECG5000.zip``, else ``download.ucr_url``). No checksum
is published for either, so each is accepted by the fingerprint of its parsed content, and
the stage writes the split as two canonical TSVs: the same bytes whichever way it came.
csv: the file's URL or a local path, by ``csv_sha256`` when known, else by its structure
(``csv_rows`` rows of 141 cells, the last one whole: a truncated transfer never passes).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from pipeline.core.context import Metrics, StageContext
from pipeline.core.errors import DownloadError
from pipeline.core.outputs import folder_summary, mark_synthetic
from pipeline.core.runner import main
from pipeline.download.fetch import fetch, local_path
from pipeline.download.source import Source
from pipeline.experiments.ecg5000.beats import (
    UCR_FINGERPRINTS,
    UCR_LAYOUT,
    Beats,
    read_beats,
    ucr_fingerprint,
    write_ucr_file,
)
from pipeline.experiments.ecg5000.layout import CSV_FILE, SAMPLES, UCR_TEST, UCR_TRAIN
from pipeline.experiments.ecg5000.params import EXPERIMENT, DownloadParams
from pipeline.experiments.ecg5000.synthetic import synthetic_beats, write_csv_file
from pipeline.experiments.ecg5000.ucr_archive import ARCHIVE, holds_official_split, read_split

DATASET = "ecg5000"  # the mirror's folder


def is_official(filename: str) -> Callable[[Path], bool]:
    """The content check of one UCR TSV: its parsed content's fingerprint is the official
    (else DownloadError naming both)."""
    def check(path: Path) -> bool:
        got = ucr_fingerprint(path)
        if got != UCR_FINGERPRINTS[filename]:
            raise DownloadError(f"the sha256 of its parsed labels and samples is "
                                f"{got or 'not defined: it has unusable rows'}, the official "
                                f"{filename}'s {UCR_FINGERPRINTS[filename]}")
        return True
    return check


def mirror_tsvs(ctx: StageContext, scratch: Path) -> dict[str, Beats] | str:
    """The split from the mirror's TSVs, each verified, or why the mirror has no usable
    pair."""
    if ctx.mirror is None:
        return "no mirror is set"
    split = {}
    for name in (UCR_TRAIN, UCR_TEST):
        location = (f"{ctx.mirror.rstrip('/')}/{DATASET}/{name}"
                    if urlparse(ctx.mirror).scheme in ("http", "https")
                    else str(local_path(ctx.mirror) / DATASET / name))
        try:
            path = fetch(Source(DATASET, location, name), scratch,
                         content_check=is_official(name), partials=ctx.paths.partial_downloads)
        except DownloadError as error:
            return str(error).splitlines()[1].strip().removeprefix("- ")
        split[name], _ = read_beats(path, UCR_LAYOUT)
    return split


def official_split(ctx: StageContext) -> dict[str, Beats]:
    """The verified split: the mirror's TSVs, else the archive's zip (mirror, then network)."""
    with tempfile.TemporaryDirectory(prefix="ecg5000-") as scratch:
        split = mirror_tsvs(ctx, Path(scratch))
        if not isinstance(split, str):
            return split
        try:
            archive = fetch(Source(DATASET, ctx.params.download.ucr_url, ARCHIVE),
                            Path(scratch), mirror=ctx.mirror, partials=ctx.paths.partial_downloads,
                            content_check=holds_official_split)
        except DownloadError as error:
            raise DownloadError(f"{error}\n(The mirror's TSV pair was tried first: "
                                f"{split}.)") from None
        return read_split(archive)


def holds_whole_csv(expected_rows: int | None) -> Callable[[Path], bool]:
    """The structure of a complete ecg.csv: every line of 141 cells, ending in a newline,
    ``expected_rows`` of them (bad values inside are preprocess's to report)."""
    def check(path: Path) -> bool:
        text = path.read_text(errors="replace")
        lines = text.splitlines()
        return (text.endswith("\n") and all(line.count(",") == SAMPLES for line in lines)
                and (expected_rows is None or len(lines) == expected_rows))
    return check


def fetch_csv(ctx: StageContext, params: DownloadParams) -> None:
    """``csv_source``, a URL or a local path (read in place), verified."""
    fetch(Source(DATASET, params.csv_source, CSV_FILE, sha256=params.csv_sha256), ctx.out,
          mirror=ctx.mirror, partials=ctx.paths.partial_downloads,
          content_check=None if params.csv_sha256 else holds_whole_csv(params.csv_rows))


def write_synthetic(out: Path, params: DownloadParams, rng: np.random.Generator) -> None:
    """Stand-ins of every source, in its exact layout."""
    if params.layout == "csv":
        beats, labels = synthetic_beats(
            params.synthetic_train_beats + params.synthetic_test_beats, rng)
        write_csv_file(out / CSV_FILE, beats, (labels == 1).astype(int))
    else:
        write_ucr_file(out / UCR_TRAIN, *synthetic_beats(params.synthetic_train_beats, rng))
        write_ucr_file(out / UCR_TEST, *synthetic_beats(params.synthetic_test_beats, rng))


def download(ctx: StageContext) -> Metrics:
    params = ctx.params.download
    if ctx.synthetic:
        write_synthetic(ctx.out, params, ctx.rng("synthetic-data"))
        mark_synthetic(ctx.out)
    elif params.layout == "csv":
        fetch_csv(ctx, params)
    else:
        for name, beats in official_split(ctx).items():
            write_ucr_file(ctx.out / name, beats.samples, beats.labels)
    return folder_summary(ctx.out)


if __name__ == "__main__":
    main(EXPERIMENT, "download", download)
