"""A real train stage on the accelerator against the same stage on CPU: the devices Keras used,
the dtype policy the saved model was trained in, and the training throughput of each.

Each run is the experiment's own train stage (``python -m pipeline.experiments.<exp>.train``),
in a scratch project that links the download, preprocess and tune outputs (run
``dvc repro <exp>-tune`` or ``dvc pull`` first, and run this from the repository root) and
writes its model, metrics and MLflow store there, so nothing of the checkout changes. Runs,
each in a process of its own:

* accelerator, float32 and (``train.mixed_precision: true``) mixed float16, when the backend
  sees a GPU;
* CPU, float32, with every GPU hidden (``CUDA_VISIBLE_DEVICES=`` and, on JAX,
  ``JAX_PLATFORMS=cpu``).

    KERAS_BACKEND=jax python benchmarks/gpu_train.py                 # mnist, 3 epochs
    python benchmarks/gpu_train.py --experiment cifar10 --epochs 2 --output gpu.json

Without an accelerator it says so and measures the CPU run alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from pipeline.core.outputs import read_timings
from pipeline.core.paths import ExperimentPaths
from pipeline.ml.predict import MODEL_FILE

INPUT_STAGES = ("download", "preprocess", "tune")
PROBE = ("import json, keras; from pipeline.ml.devices import accelerators; "
         "print(json.dumps({'backend': keras.backend.backend(), 'devices': accelerators()}))")


@dataclass(frozen=True)
class TrainRun:
    name: str
    backend: str
    devices: list[str]  # the GPUs Keras's backend saw in the stage's environment
    dtype_policies: list[str]  # of the saved model's layers
    samples_per_second: float  # the stage's median epoch, validation excluded
    stage_seconds: float
    epochs_run: int


def environment(root: Path, backend: str, cpu_only: bool) -> dict[str, str]:
    """The stage's environment: the checkout's code first on the path, GPUs hidden if asked."""
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": path}
    if cpu_only:
        env["CUDA_VISIBLE_DEVICES"] = ""
        if backend == "jax":
            env["JAX_PLATFORMS"] = "cpu"
    return env


def visible_devices(env: dict[str, str]) -> tuple[str, list[str]]:
    """The backend and the GPUs it sees, asked in a process of their own (as the stage will)."""
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                            text=True, check=True)
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    return probe["backend"], probe["devices"]


def scratch_project(root: Path, folder: Path, experiment: str, epochs: int,
                    mixed_precision: bool) -> Path:
    """A project in ``folder`` whose params are the checkout's (at ``root``) with the train
    stage's epochs and mixed precision set, and whose input stages link to its outputs."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params[experiment]["train"].update(epochs=epochs, mixed_precision=mixed_precision)
    folder.mkdir(parents=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ours, theirs = ExperimentPaths(root, experiment), ExperimentPaths(folder, experiment)
    for stage in INPUT_STAGES:
        if not ours.stage_dir(stage).is_dir():
            raise SystemExit(f"{ours.stage_dir(stage)} is missing: run "
                             f"`dvc repro {experiment}-tune` (or `dvc pull`) first")
        theirs.stage_dir(stage).parent.mkdir(parents=True, exist_ok=True)
        theirs.stage_dir(stage).symlink_to(ours.stage_dir(stage))
    return folder


def saved_dtype_policies(model_file: Path) -> list[str]:
    """The dtype policy names in a ``.keras`` file's config, read without loading it."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("class_name") == "DTypePolicy":
                found.add(node["config"]["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with zipfile.ZipFile(model_file) as archive:
        walk(json.loads(archive.read("config.json")))
    return sorted(found)


def train_once(name: str, project: Path, experiment: str, env: dict[str, str]) -> TrainRun:
    backend, devices = visible_devices(env)
    print(f"\n== {name}: train@{experiment} on {backend}, devices {devices or ['CPU']}",
          flush=True)
    env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}
    subprocess.run([sys.executable, "-m", f"pipeline.experiments.{experiment}.train"],
                   cwd=project, env=env, check=True)
    paths = ExperimentPaths(project, experiment)
    timings = read_timings(paths, "train")
    details = json.loads(paths.details_file("train").read_text())
    return TrainRun(name, backend, devices, saved_dtype_policies(paths.model / MODEL_FILE),
                    timings["samples_per_second"], timings["seconds"], details["epochs_run"])


def runs(root: Path, experiment: str, epochs: int, backend: str, folder: Path
         ) -> Iterator[TrainRun]:
    _, gpus = visible_devices(environment(root, backend, cpu_only=False))
    if not gpus:
        print(f"no accelerator visible to Keras's {backend} backend: measuring the CPU alone")
    settings = [("accelerator float32", False, False), ("accelerator mixed_float16", False, True)
                ] if gpus else []
    for name, cpu_only, mixed in [*settings, ("CPU float32", True, False)]:
        project = scratch_project(root, folder / name.replace(" ", "-"), experiment, epochs,
                                  mixed)
        run = train_once(name, project, experiment, environment(root, backend, cpu_only))
        if cpu_only and run.devices:
            raise SystemExit(f"the CPU run still saw {run.devices}")
        expected = "mixed_float16" if mixed and run.devices else "float32"
        if expected not in run.dtype_policies:
            raise SystemExit(f"{name}: the saved model's layers are {run.dtype_policies}, "
                             f"not {expected}")
        yield run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="mnist", help="an experiment with a train stage")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each run")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "jax"),
                        choices=["jax", "tensorflow", "torch"])
    parser.add_argument("--output", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gpu-train-") as folder:
        measured = list(runs(Path.cwd(), args.experiment, args.epochs, args.backend, Path(folder)))
    cpu = measured[-1].samples_per_second
    print(f"\n{'run':<27}{'devices':<28}{'policies':<26}{'samples/s':>10}{'vs CPU':>8}"
          f"{'stage s':>9}")
    for run in measured:
        print(f"{run.name:<27}{', '.join(run.devices) or 'CPU':<28}"
              f"{', '.join(run.dtype_policies):<26}{run.samples_per_second:>10.0f}"
              f"{run.samples_per_second / cpu:>7.1f}x{run.stage_seconds:>9.1f}")
    if args.output:
        args.output.write_text(json.dumps([asdict(run) for run in measured], indent=2) + "\n")


if __name__ == "__main__":
    main()
