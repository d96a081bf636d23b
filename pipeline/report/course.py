"""The course reports' setups rerun: each preset's test figures, recorded from the run that
measured them, so that the report and the README can set them beside the reports' numbers
while the workspace holds the default's.

After a preset's run (``dvc exp run -S mnist.preset=report_d_fixed_cnn``, or ``dvc repro`` in a
checkout whose params select it), ``python -m pipeline.report.course mnist`` writes
``metrics/course/mnist/report_d_fixed_cnn.json``: the evaluate stage's metrics, the times of
the stages up to it, the git commit and the raw data's version. Commit that file with the default's
results; the report reads every such file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pipeline.core.errors import PipelineError
from pipeline.core.outputs import read_json, read_stage_metrics, read_timings, write_json_atomic
from pipeline.core.params import read_params_file
from pipeline.core.paths import STAGES, ExperimentPaths
from pipeline.tracking.runs import data_version, git_commit

COURSE_FOLDER = Path("metrics") / "course"


def record(root: Path, experiment: str, params_file: Path = Path("params.yaml")) -> Path:
    """Record the workspace's results of ``experiment`` under its preset; refused for the
    default, for synthetic data and for a part that has not reached evaluate."""
    preset = (read_params_file(root / params_file).get(experiment) or {}).get("preset")
    if preset in (None, "default"):
        raise PipelineError(f"{experiment}.preset is {preset!r}: only a preset's run is recorded "
                            "(the default's results are the workspace's own)")
    paths = ExperimentPaths(root, experiment)
    evaluate = read_stage_metrics(paths, "evaluate")
    if evaluate is None:
        raise PipelineError(f"{paths.metrics_file('evaluate')} is missing: run "
                            f"`dvc repro {experiment}-evaluate` first")
    if evaluate.get("synthetic"):
        raise PipelineError(f"{experiment}'s results are of synthetic data: not a rerun")
    # the stages that made the figures (a later stage's row may be another run's)
    seconds = {stage: timing["seconds"] for stage in STAGES[:STAGES.index("evaluate") + 1]
               if (timing := read_timings(paths, stage)).get("seconds") is not None}
    out = root / COURSE_FOLDER / experiment / f"{preset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, {
        "preset": preset, "evaluate": evaluate, "stage_seconds": seconds,
        "git_commit": git_commit(root), "data_version": data_version(root, experiment, paths.raw),
    })
    return out


def recorded(root: Path, experiment: str) -> dict[str, dict[str, Any]]:
    """Every preset recorded for ``experiment``: preset name -> its record."""
    folder = root / COURSE_FOLDER / experiment
    return {path.stem: read_json(path) for path in sorted(folder.glob("*.json"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.report.course",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("experiment")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    try:
        print(record(Path.cwd(), args.experiment, args.params))
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
