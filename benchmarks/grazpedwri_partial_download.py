"""Does a partial GRAZPEDWRI-DX download transfer only about N images' worth of bytes?

An offline imitation of the figshare article is served on 127.0.0.1 (the API's file list,
download links that redirect to storage answering range requests): the real ``dataset.csv``
(or a generated one of the same size without ``../shared/datasets``) and four image archives
in figshare's layout holding an entry for every one of its images, so the archives' central
directories have the real number of entries and names. The images a run can ask for (the
largest subset measured) are stand-ins at the real radiographs' size (or the real ones);
every other entry is a small stand-in, which keeps the archives to a few hundred MB.

For each N the pipeline's download stage runs in a fresh project with ``images: N`` and the
bytes the server sent are compared with the compressed size of the N selected members.

    python benchmarks/grazpedwri_partial_download.py --subsets 20 100

Writes ``results.json`` to ``--out`` and prints it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import yaml

from pipeline.cli import run_stage
from pipeline.core.outputs import read_timings
from pipeline.core.params import load_experiment_params
from pipeline.core.paths import ExperimentPaths
from pipeline.experiments.grazpedwri_dx.metadata import (
    generate_metadata,
    read_metadata,
    select_images,
    write_metadata,
)
from pipeline.experiments.grazpedwri_dx.params import EXPERIMENT
from pipeline.experiments.grazpedwri_dx.standins import write_standins

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the imitation of figshare is a test fake
from fakes.figshare_article import write_article  # noqa: E402
from fakes.local_figshare import LocalFigshare  # noqa: E402

NAME = EXPERIMENT.name
REAL = REPO.parent / "shared" / "datasets" / "grazpedwri-dx"
SEED = 42

# the repository's params (the models have no defaults)
PARAMS = load_experiment_params(REPO / "params.yaml", "grazpedwri_dx", EXPERIMENT.params)


def build_article(folder: Path, largest: int, longest_side: int) -> tuple[dict[int, Path], int]:
    """The article's files; returns them by id and how many images are full-size."""
    if (REAL / "dataset.csv").is_file():
        metadata, real_images = REAL / "dataset.csv", REAL / "images"
    else:
        metadata, real_images = folder / "generated.csv", None
        write_metadata(metadata, generate_metadata(20_327, np.random.default_rng(0)))
    frame = read_metadata(metadata)
    full = select_images(frame, largest, [], SEED, where="benchmark")
    small = sorted(set(frame["filestem"]) - set(full))
    images = folder / "images"
    write_standins(images, frame, full, longest_side, np.random.default_rng(1),
                   real_images=real_images)
    write_standins(images, frame, small, 48, np.random.default_rng(2))
    files = write_article(folder, metadata, sorted(images.glob("*.png")), PARAMS.download.files)
    return files, len(full)


def central_directory_bytes(archive: Path) -> int:
    """The bytes after the last member: the central directory and the end records."""
    with zipfile.ZipFile(archive) as opened:
        return archive.stat().st_size - opened.start_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subsets", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--longest-side", type=int, default=760)
    parser.add_argument("--out", type=Path,
                        default=REPO / "bench-out" / "grazpedwri_partial_download")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    files, full_size = build_article(args.out / "article", max(args.subsets), args.longest_side)
    archives = {path.name: path for path in files.values() if path.name.startswith("images_")}
    results: dict = {
        "article_build_seconds": round(time.perf_counter() - started, 1),
        "archive_entries": sum(len(zipfile.ZipFile(p).infolist()) for p in archives.values()),
        "archive_bytes": sum(p.stat().st_size for p in archives.values()),
        "central_directory_bytes": {name: central_directory_bytes(path)
                                    for name, path in sorted(archives.items())},
        "full_size_images": full_size,
        "runs": [],
    }
    with LocalFigshare(PARAMS.download.article_id, files) as server:
        for count in args.subsets:
            project = args.out / f"project_{count}"
            project.mkdir(exist_ok=True)
            section = {"preset": "default", "presets": {}, "preprocess": {}, "tune": {},
                       "train": {}, "evaluate": {}, "explain": {},
                       "download": {"api_url": server.api_url, "images": count}}
            (project / "params.yaml").write_text(yaml.safe_dump(
                {"seed": SEED, "data": {"synthetic": False}, NAME: section}))
            sent_before = server.bytes_sent
            run_started = time.perf_counter()
            metrics = run_stage("download", NAME, params_file=project / "params.yaml",
                                root=project)
            # what fetching cost: the stage's timings (how the data came, not the data)
            metrics.update(read_timings(ExperimentPaths(project, NAME), "download"))
            sent = server.bytes_sent - sent_before - files[PARAMS.download.files["dataset.csv"]
                                                          ].stat().st_size
            results["runs"].append({
                "images_requested": metrics["images_requested"],
                "images_present": metrics["images_present"],
                "range_requests": metrics["range_requests"],
                "image_bytes_sent": sent,
                "selected_member_bytes": metrics["member_bytes"],
                "overhead_bytes": sent - metrics["member_bytes"],
                "sent_over_selected": round(sent / metrics["member_bytes"], 3),
                "share_of_archives": round(sent / results["archive_bytes"], 4),
                "seconds": round(time.perf_counter() - run_started, 1),
            })
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
