"""Training throughput of CIFAR-10's default network in float32 and with its convolutions in
bfloat16 (``cifar10.model.bfloat16``), alternating, in fresh processes, on the real training
images: which one to use depends on the CPU (bfloat16 pays where it has AMX tiles, and can
cost where it has AVX512-BF16 alone), so measure it on the machine that will train.

    python benchmarks/cifar10_precision.py --repeats 3   # after dvc repro cifar10-tune

Prints images/s of every fit (the pipeline's settings: seeds and deterministic ops, batch and
augmentation from params.yaml, the tune stage's best hyperparameters), each one's
median and the ratio bfloat16 / float32, and the CPU flags that decide it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

CPU_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")


def measure(bfloat16: bool, images: int) -> float:
    """One fit of ``images`` training images in this process, after a warm-up; images/s."""
    import keras

    from pipeline.core.params import load_experiment_params
    from pipeline.core.paths import ExperimentPaths
    from pipeline.core.reproducibility import seed_everything
    from pipeline.experiments.cifar10.model import build_classifier
    from pipeline.experiments.cifar10.params import Params
    from pipeline.ml.search_space import fixed_hyperparameters, read_best
    from pipeline.ml.split_files import load_split

    seed_everything(0)
    params = load_experiment_params(Path("params.yaml"), "cifar10", Params)
    paths = ExperimentPaths(Path.cwd(), "cifar10")
    x, y = load_split(paths.processed, "train")
    model = build_classifier(fixed_hyperparameters(read_best(paths.tune)), params.tune.search_space,
                             params.model.model_copy(update={"bfloat16": bfloat16}),
                             params.train.augmentation)
    batch = params.train.batch_size
    model.fit(x[: 4 * batch], y[: 4 * batch], batch_size=batch, epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(x[:images], y[:images], batch_size=batch, epochs=1, verbose=0)
    keras.backend.clear_session()
    return images / (time.perf_counter() - started)


def cpu_flags() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo")
    words = set(cpuinfo.read_text().split()) if cpuinfo.exists() else set()
    return [flag for flag in CPU_FLAGS if flag in words]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="fits per precision")
    parser.add_argument("--images", type=int, default=12800, help="images per timed fit")
    parser.add_argument("--one", choices=["float32", "bfloat16"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a child process: one measurement, printed as JSON
        print(json.dumps(measure(args.one == "bfloat16", args.images)))
        return
    print(f"CPU flags: {', '.join(cpu_flags()) or 'none of ' + ', '.join(CPU_FLAGS)}")
    rates: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    for _ in range(args.repeats):
        for precision in rates:
            result = subprocess.run(
                [sys.executable, __file__, "--one", precision, "--images", str(args.images)],
                check=True, capture_output=True, text=True)
            rates[precision].append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(f"  {precision:<9}{rates[precision][-1]:8.1f} images/s", flush=True)
    medians = {precision: statistics.median(values) for precision, values in rates.items()}
    for precision, median in medians.items():
        print(f"{precision:<9} median {median:8.1f} images/s")
    print(f"bfloat16 / float32: {medians['bfloat16'] / medians['float32']:.2f}x")


if __name__ == "__main__":
    main()
