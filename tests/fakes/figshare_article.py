"""An offline imitation of the GRAZPEDWRI-DX figshare article's files, for
:class:`fakes.local_figshare.LocalFigshare` to serve."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pipeline.experiments.grazpedwri_dx.params import METADATA_FILE, archive_names


def write_article(folder: Path, metadata: Path, images: Sequence[Path],
                  files: Mapping[str, int]) -> dict[int, Path]:
    """The article's files in ``folder``: ``metadata`` as dataset.csv, the images zipped as
    figshare holds them (in file name order, split evenly across the archives, each member at
    ``<archive stem>/<file name>``) and a small folder_structure.zip. Returns the file ids
    (from ``files``) and paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {METADATA_FILE: folder / METADATA_FILE}
    if metadata.resolve() != paths[METADATA_FILE].resolve():
        shutil.copyfile(metadata, paths[METADATA_FILE])
    ordered = np.asarray(sorted(images, key=lambda path: path.name), dtype=object)
    names = archive_names(files)
    for name, chunk in zip(names, np.array_split(ordered, len(names)), strict=True):
        paths[name] = folder / name
        with zipfile.ZipFile(paths[name], "w", zipfile.ZIP_DEFLATED) as archive:
            for image in chunk:
                archive.write(image, f"{Path(name).stem}/{image.name}")
    for name in set(files) - set(paths):  # folder_structure.zip: not used here
        paths[name] = folder / name
        with zipfile.ZipFile(paths[name], "w") as archive:
            archive.writestr("README.txt", "stand-in\n")
    return {files[name]: path for name, path in paths.items()}
