"""How long a no-op ``dvc repro`` of the whole default pipeline takes, with ruamel.yaml's C
parser (what the project installs) and without it (ruamel.yaml 0.19's pure-Python fallback),
side by side in one run. DVC parses ``params.yaml`` once per stage that reads params, so the
parser is most of a no-op repro's time.

    python benchmarks/noop_repro.py --runs 3      # in a checkout whose pipeline is up to date

Prints the median seconds of each and their ratio; fails if the pipeline is not up to date
(then it would time real work).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_repro(env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(["dvc", "repro"], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0 or "Running stage" in result.stdout:
        sys.exit(f"`dvc repro` is not a no-op here:\n{result.stdout[-2000:]}{result.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as hide:
        # a sitecustomize that makes ruamel.yaml's C extension unimportable
        (Path(hide) / "sitecustomize.py").write_text(
            "import sys\nsys.modules['_ruamel_yaml'] = None\n")
        pure = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [hide, os.environ.get("PYTHONPATH")]))}
        timings = {"C parser": [timed_repro(dict(os.environ)) for _ in range(args.runs)],
                   "pure Python": [timed_repro(pure) for _ in range(args.runs)]}
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, median in medians.items():
        print(f"no-op dvc repro, {name:<11}: {median:5.2f} s (median of {args.runs})")
    print(f"ratio: {medians['pure Python'] / medians['C parser']:.1f}x")


if __name__ == "__main__":
    main()
