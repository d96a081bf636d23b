"""MNIST pipeline figures from one run: per-stage wall time, where the train stage's time goes
and what Keras's speed levers (XLA, mixed precision, the input pipeline, batch size) do to its
throughput on this machine, and the time of a no-op ``dvc repro``.

Run from the repository root after (or with ``--repro``, as part of) a pipeline run:

    python benchmarks/mnist_pipeline.py --repro    # dvc repro mnist-explain, then measure
    python benchmarks/mnist_pipeline.py            # measure the last run's outputs

Every variant trains the tune stage's best CNN on the same real training images, one pass per
round, the variants in turn, so that drift in the machine's speed (a shared VM's can halve it
for minutes) hits them alike; the first round (tracing) is dropped. Each is reported as images
per wall-clock second and per CPU-second of this process (steal by other tenants does not count
as CPU time, so that ratio is the steadier one), and as a ratio to the train stage's own step.
XLA is measured in a subprocess without TensorFlow's op determinism, which Keras will not
combine with ``jit_compile`` (the pipeline enables it, so that runs repeat exactly), and with
the augmentation moved to the input pipeline, since XLA cannot compile those layers.
``mixed_float16`` is left out: on this CPU it trained at about 1% of float32's speed (13
images/s in a trial).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np

from pipeline.core.outputs import read_timings
from pipeline.core.params import load_experiment_params
from pipeline.core.paths import STAGES, ExperimentPaths
from pipeline.experiments.mnist.model import build_cnn
from pipeline.experiments.mnist.params import Params
from pipeline.ml import training
from pipeline.ml.search_space import fixed_hyperparameters, read_best
from pipeline.ml.split_files import load_split

BASELINE = "train stage's step"
AUGMENTATION_LAYERS = ("rotate", "translate", "zoom")  # build_cnn's names
Pass = Callable[[], None]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def interleaved(passes: dict[str, Pass], rounds: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each pass, the passes run in turn ``rounds`` times."""
    wall = {name: [] for name in passes}
    cpu = {name: [] for name in passes}
    for round_ in range(rounds):
        for name, run in passes.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            run()
            if round_:
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - cpu_started)
    return {name: (float(np.median(wall[name])), float(np.median(cpu[name]))) for name in passes}


def training_passes(root: Path, images: int, xla: bool) -> tuple[dict[str, Pass], int]:
    """One pass each over ``images`` training images: the train stage's step and each lever
    (or, with ``xla``, the stage's step without and with XLA)."""
    import keras
    import tensorflow as tf

    params = load_experiment_params(root / "params.yaml", "mnist", Params)
    paths = ExperimentPaths(root, "mnist")
    x, y = (array[:images] for array in load_split(paths.processed, "train"))
    space, augmentation = params.tune.search_space, params.train.augmentation
    hp = fixed_hyperparameters(read_best(paths.tune))
    batch = params.train.batch_size

    def model(augmented: bool = True, policy: str = "float32", jit: bool = False) -> keras.Model:
        keras.mixed_precision.set_global_policy(policy)
        network = build_cnn(hp, space, augmentation if augmented else None)
        keras.mixed_precision.set_global_policy("float32")
        network.compile(optimizer=network.optimizer, loss=network.loss, metrics=["accuracy"],
                        jit_compile=jit)
        if network.jit_compile != jit:
            raise RuntimeError("Keras refused jit_compile=True for this model")
        return network

    def fit(network: keras.Model, batch_size: int = batch) -> Pass:
        return lambda: network.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)

    source = model()
    augment = keras.Sequential([source.get_layer(name) for name in AUGMENTATION_LAYERS])
    mapped = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).batch(batch)
              .map(lambda images_, labels: (augment(images_, training=True), labels),
                   num_parallel_calls=tf.data.AUTOTUNE)
              .prefetch(tf.data.AUTOTUNE))

    def fit_mapped(network: keras.Model) -> Pass:
        return lambda: network.fit(mapped, epochs=1, verbose=0)

    if xla:  # XLA cannot compile the augmentation layers: they move to the input pipeline
        return {BASELINE: fit(source), "XLA, augmentation in a tf.data map":
                fit_mapped(model(augmented=False, jit=True))}, len(x)
    plain, staged = model(augmented=False), model()
    tiny_validation = (x[:256], y[:256])
    train_params = params.train.model_copy(update={"epochs": 1})
    passes = {
        BASELINE: fit(source),
        "the stage's fit path (callbacks, MLflow)": lambda: training.fit(
            staged, (x, y), tiny_validation, train_params, verbose=0),
        "augmentation in a tf.data map": fit_mapped(plain),
        "batch 256": fit(model(), 256),
        "mixed_bfloat16": fit(model(policy="mixed_bfloat16")),
        "no augmentation (bound)": fit(model(augmented=False)),
        "forward pass alone": lambda: plain.predict(x, batch_size=batch, verbose=0),
        "augmentation alone": lambda: [None for _ in mapped],
    }
    return passes, len(x)


def measure(root: Path, images: int, rounds: int, xla: bool) -> dict[str, tuple[float, float]]:
    """Images/s (wall) and images per CPU-second of each pass, measured in this process."""
    import keras

    keras.utils.set_random_seed(0)
    if not xla:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()  # as the pipeline's stages run
    passes, count = training_passes(root, images, xla)
    with mlflow.start_run(run_name="benchmark"):
        seconds = interleaved(passes, rounds)
    return {name: (count / wall, count / cpu) for name, (wall, cpu) in seconds.items()}


def print_rates(title: str, rates: dict[str, tuple[float, float]]) -> None:
    base_wall, base_cpu = rates[BASELINE]
    print(f"\n{title}\n  {'':<42}{'images/s':>9}{'per CPU-s':>11}{'ratio':>7}{'(wall)':>8}")
    for name, (wall, cpu) in rates.items():
        print(f"  {name:<42}{wall:>9.0f}{cpu:>11.0f}{cpu / base_cpu:>7.2f}"
              f"{wall / base_wall:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repro", action="store_true", help="run dvc repro mnist-explain first")
    parser.add_argument("--images", type=int, default=3840, help="training images per pass")
    parser.add_argument("--rounds", type=int, default=7, help="passes of each variant")
    parser.add_argument("--xla-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = Path.cwd()
    mlflow.set_tracking_uri(f"sqlite:///{tempfile.mkdtemp()}/benchmark.db")
    if args.xla_only:  # the subprocess of the XLA comparison
        print(json.dumps(measure(root, args.images, args.rounds, xla=True)))
        return
    paths = ExperimentPaths(root, "mnist")
    if args.repro:
        print(f"dvc repro mnist-explain: {timed(['dvc', 'repro', 'mnist-explain']):.1f} s")
    seconds = {stage: read_timings(paths, stage)["seconds"] for stage in STAGES}
    print("per-stage wall time (s, inside the stage process):")
    for stage, value in seconds.items():
        print(f"  {stage:<11}{value:>9.1f}")
    print(f"  {'total':<11}{sum(seconds.values()):>9.1f}")
    print(f"train stage, as it ran: {read_timings(paths, 'train')['samples_per_second']:.0f} "
          "images/s (median epoch)")

    print_rates(f"training throughput, {args.images} images per pass, median of "
                f"{args.rounds - 1} rounds (op determinism on, as in the pipeline):",
                measure(root, args.images, args.rounds, xla=False))
    xla = subprocess.run([sys.executable, __file__, "--xla-only", "--images", str(args.images),
                          "--rounds", str(args.rounds)], check=True, capture_output=True,
                         text=True)
    print_rates("XLA, in a subprocess without op determinism (Keras refuses jit_compile with "
                "it):", json.loads(xla.stdout.strip().splitlines()[-1]))

    noop = [timed(["dvc", "repro", "mnist-explain"]) for _ in range(3)]
    print(f"\nno-op dvc repro mnist-explain: {min(noop):.2f} s (best of 3; "
          f"{', '.join(f'{t:.2f}' for t in noop)})")


if __name__ == "__main__":
    main()
