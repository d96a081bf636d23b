"""How fast does the GRAZPEDWRI-DX input pipeline feed a model, against the course report's
``ImageDataGenerator``? Both read the same radiographs, side by side in one run.

The images: generated 16-bit stand-ins at the real radiographs' size (about 500 x 750),
named after real file stems when ``../shared/datasets`` has the real ``dataset.csv``, plus
the real radiographs found there. Three loaders produce batches of 64 at 224 x 224:

* ``report_idg_raw``: the report's ``ImageDataGenerator(rescale=1/255)``,
  ``flow_from_dataframe`` on the original PNGs, RGB, 224 x 224 (squashed, 8-bit);
* ``pipeline_tf_data``: the pipeline's loader
  (:func:`pipeline.experiments.grazpedwri_dx.images.image_dataset`) on the prepared
  224 x 224 16-bit squares the preprocess stage writes;
* ``report_idg_prepared``: the report's generator on those same prepared squares, which
  separates the loader's own speed from the work preparation saves.

Each loader is timed over ``--epochs`` full passes after one warm-up pass (files in the page
cache for everyone). Preparation, a one-off cost of the preprocess stage, is timed too.

    python benchmarks/grazpedwri_loader.py --images 1000 --epochs 2

Writes ``results.json`` to ``--out`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.params import load_experiment_params
from pipeline.experiments.grazpedwri_dx.images import image_dataset
from pipeline.experiments.grazpedwri_dx.metadata import (
    generate_metadata,
    read_metadata,
    select_images,
    write_metadata,
)
from pipeline.experiments.grazpedwri_dx.params import EXPERIMENT
from pipeline.experiments.grazpedwri_dx.preprocess import prepare_image
from pipeline.experiments.grazpedwri_dx.standins import write_standins

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "datasets" / "grazpedwri-dx"

# the repository's params (the models have no defaults)
PARAMS = load_experiment_params(REPO / "params.yaml", "grazpedwri_dx", EXPERIMENT.params)
SIZE, BATCH = 224, 64


def radiographs(folder: Path, count: int, longest_side: int) -> pd.DataFrame:
    """``count`` radiographs in ``folder/raw`` (stand-ins with real names where possible, and
    the real ones): their metadata rows with a ``path`` column."""
    if (REAL / "dataset.csv").is_file():
        frame = read_metadata(REAL / "dataset.csv")
        real = sorted(path.stem for path in (REAL / "images").glob("*.png"))
        stems = select_images(frame, count - len(real), real, 42, where="benchmark")
        real_images: Path | None = REAL / "images"
    else:
        write_metadata(folder / "dataset.csv", generate_metadata(count, np.random.default_rng(0)))
        frame = read_metadata(folder / "dataset.csv")
        stems, real_images = frame["filestem"].tolist()[:count], None
    write_standins(folder / "raw", frame, stems, longest_side, np.random.default_rng(0),
                   real_images=real_images)
    chosen = frame.set_index("filestem").loc[stems].reset_index()
    chosen["path"] = [str(folder / "raw" / f"{stem}.png") for stem in chosen["filestem"]]
    return chosen


def prepare(frame: pd.DataFrame, folder: Path) -> tuple[list[str], float]:
    (folder / "prepared").mkdir(exist_ok=True)
    started = time.perf_counter()
    files = []
    for stem, path in zip(frame["filestem"], frame["path"], strict=True):
        target = folder / "prepared" / f"{stem}.png"
        prepare_image(Path(path), target, SIZE, PARAMS.preprocess.intensity)
        files.append(str(target))
    return files, time.perf_counter() - started


def time_passes(make_pass, images: int, epochs: int) -> dict[str, float]:
    """Images per second over ``epochs`` passes, after a warm-up pass."""
    make_pass()
    started = time.perf_counter()
    for _ in range(epochs):
        make_pass()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "images_per_second": round(images * epochs / seconds, 1)}


def idg_pass(files: list[str], labels: list[int]):
    import tensorflow as tf

    report_generator = tf.keras.preprocessing.image.ImageDataGenerator(rescale=1 / 255)
    generator = report_generator.flow_from_dataframe(
        pd.DataFrame({"path": files, "label": [str(label) for label in labels]}),
        x_col="path", y_col="label", target_size=(SIZE, SIZE), color_mode="rgb",
        class_mode="binary", batch_size=BATCH, shuffle=True, seed=42,
    )

    def one_pass() -> None:
        for index in range(len(generator)):
            generator[index]

    return one_pass, generator


def tf_data_pass(files: list[str], labels: list[int]):
    data = image_dataset(files, labels, image_size=SIZE, batch_size=BATCH, shuffle=True, seed=42)

    def one_pass() -> None:
        for _ in data:
            pass

    return one_pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--longest-side", type=int, default=760)
    parser.add_argument("--out", type=Path, default=REPO / "bench-out" / "grazpedwri_loader")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    frame = radiographs(args.out, args.images, args.longest_side)
    generation = time.perf_counter() - started
    prepared, preparation = prepare(frame, args.out)
    labels = frame["label"].tolist()
    raw_pass, raw_generator = idg_pass(frame["path"].tolist(), labels)
    results = {
        "images": len(frame),
        "cpus": os.cpu_count(),
        "generation_seconds": round(generation, 1),
        "preparation_seconds_one_off": round(preparation, 1),
        "loaders": {
            "report_idg_raw": time_passes(raw_pass, len(frame), args.epochs),
            "pipeline_tf_data": time_passes(tf_data_pass(prepared, labels), len(frame),
                                            args.epochs),
            "report_idg_prepared": time_passes(idg_pass(prepared, labels)[0], len(frame),
                                               args.epochs),
        },
    }
    speeds = {name: row["images_per_second"] for name, row in results["loaders"].items()}
    results["speedup_vs_report_idg_raw"] = round(speeds["pipeline_tf_data"]
                                                 / speeds["report_idg_raw"], 1)
    results["speedup_vs_report_idg_prepared"] = round(speeds["pipeline_tf_data"]
                                                      / speeds["report_idg_prepared"], 1)
    # what the report's generator makes of a 16-bit radiograph: 8-bit RGB, clipped
    batch = raw_generator[0][0]
    results["report_idg_distinct_levels_first_batch"] = len(np.unique(batch))
    pipeline_batch = next(iter(image_dataset(prepared[:BATCH], image_size=SIZE,
                                             batch_size=BATCH)))
    results["pipeline_distinct_levels_first_batch"] = len(np.unique(pipeline_batch))
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
