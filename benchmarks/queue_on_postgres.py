"""`dvc queue start -j 1` against `-j 4`, both logging to the PostgreSQL-backed tracking server
(pipeline/tracking/server.py): the wall time of four queued experiments each way, and whether
every one of them finished with its runs in MLflow.

The project is the tests' tiny synthetic MNIST one (tests/dvc_project.py), built once in a
scratch folder: each queued experiment reruns train, evaluate and explain. Each way queues
settings of its own, since an experiment identical to an earlier one is restored from DVC's
run cache and would time nothing.

    python benchmarks/queue_on_postgres.py            # about 10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import dvc_project as test_project

from pipeline.tracking.server import postgres_cluster, tracking_server
from pipeline.tracking.store import EXPERIMENT

SETTINGS = {1: ["mnist.train.epochs=1", "mnist.train.batch_size=40",
                "mnist.train.batch_size=56", "mnist.train.batch_size=72"],
            4: ["mnist.train.epochs=3", "mnist.train.batch_size=48",
                "mnist.train.batch_size=80", "mnist.train.batch_size=112"]}


def queue(project: Path, jobs: int, env: dict[str, str]) -> tuple[float, int]:
    """This way's experiments queued and run ``jobs`` at once: the seconds, and how many
    succeeded."""
    names = {f"j{jobs}-{setting.split('.')[-1].replace('=', '-').replace('_', '-')}": setting
             for setting in SETTINGS[jobs]}
    done = test_project.run_queue(project, names, jobs, env)
    return done.seconds, sum(bool(re.search(rf"{name}\s+.*Success", done.status))
                             for name in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    # the cluster's folder apart: PostgreSQL's own user (when we are root) cannot enter ours
    cluster = Path(tempfile.mkdtemp(prefix="pipeline-postgres-"))
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as scratch:
        folder = Path(scratch)
        project = test_project.init_project(folder / "project", test_project.tiny_params())
        print("building the project (dvc repro) ...", flush=True)
        test_project.run(["dvc", "repro"], project)
        test_project.commit(project, "dvc repro")
        with postgres_cluster(cluster, test_project.free_port()) as backend, tracking_server(
                backend, folder / "artifacts", port=test_project.free_port(),
                log=folder / "mlflow-server.log") as url:
            env = test_project.environment(MLFLOW_TRACKING_URI=url)
            seconds = {}
            for jobs in SETTINGS:
                seconds[jobs], done = queue(project, jobs, env)
                print(f"-j {jobs}: {done} of {len(SETTINGS[jobs])} succeeded in "
                      f"{seconds[jobs]:.0f} s", flush=True)
            client = MlflowClient(url)
            runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id],
                                      "tags.dvc_exp_name != ''", max_results=1000)
            experiments = sum(len(settings) for settings in SETTINGS.values())
            print(f"MLflow: {len(runs)} runs of the queued experiments (a parent and 3 stages "
                  f"each: {4 * experiments} expected)")
    shutil.rmtree(cluster, ignore_errors=True)
    print(f"-j 4 against -j 1: {seconds[1] / seconds[4]:.2f}x faster")


if __name__ == "__main__":
    main()
