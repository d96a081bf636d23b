"""A static HTML report of the workspace, in one self-contained file readable offline.

Per experiment (those named, or every one with results): the test metrics beside the original
course reports' and published numbers (:mod:`pipeline.report.references`), then each stage's
metrics and figures: the tuning trials, the training curves, the confusion matrix and other
evaluation figures, the Grad-CAM / saliency galleries. Images are embedded as ``data:`` URIs
and the style is inline: no network is needed to read it. The report reads only what the
stages wrote (``metrics/`` and the stages' folders under ``data/``); a stage that has not run
yet is shown as missing.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import numbers
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.outputs import read_json, read_stage_metrics
from pipeline.core.params import EXPERIMENTS, load_shared_params, read_params_file
from pipeline.core.paths import ExperimentPaths
from pipeline.report.course import recorded
from pipeline.report.references import REFERENCES, Reference
from pipeline.tracking.runs import data_version, git_commit

# (stage, heading, tables of the stage's folder shown as tables)
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("preprocess", "Data and splits", ()),
    ("tune", "Hyperparameter search", ("trials.csv",)),
    ("train", "Training", ()),
    ("evaluate", "Test set", ()),
    ("explain", "Explanations", ()),
)
MAX_TABLE_ROWS = 60
DEFAULT_REPORT = Path("reports/report.html")

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 1.5em 3em; color: #222; }
h1 { margin-top: 1em; } h2 { border-bottom: 2px solid #ddd; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.same-setup { background: #eef6ee; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 12px; color: #555; }
.missing { color: #a33; } .warning { background: #fff1d6; border: 1px solid #e0b050;
          padding: 0.6em 1em; font-weight: bold; }
nav a { margin-right: 1em; } .wide { overflow-x: auto; }
"""


def write_report(root: Path, experiments: Sequence[str] | None = None, *, params_file: Path,
                 out: Path) -> Path:
    """Write the report of ``experiments`` (default: every one with a ``metrics/`` folder) in
    the workspace at ``root`` to ``out`` (relative to ``root``)."""
    params_file = params_file if params_file.is_absolute() else root / params_file
    out = out if out.is_absolute() else root / out
    shared = load_shared_params(params_file)
    raw = read_params_file(params_file)
    if experiments is None:
        experiments = sorted(path.name for path in (root / "metrics").glob("*") if path.is_dir())
    sections = [
        experiment_section(root, name, preset=(raw.get(name) or {}).get("preset", "default"))
        for name in experiments
    ]
    nav = " ".join(f'<a href="#{name}">{html.escape(name)}</a>' for name in experiments)
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Pipeline report</title><style>{STYLE}</style></head><body>"
        f"<h1>Pipeline report</h1><p>git commit <code>{git_commit(root)}</code>; "
        f"seed {shared.seed}.</p><nav>{nav}</nav>{''.join(sections)}</body></html>\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, out)
    return out


def experiment_section(root: Path, dataset: str, *, preset: str) -> str:
    paths = ExperimentPaths(root, dataset)
    metrics = {stage: stage_figures(paths, stage) for stage, _, _ in SECTIONS}
    synthetic = any(values and values.get("synthetic") for values in metrics.values())
    parts = [f'<h2 id="{html.escape(dataset)}">{html.escape(dataset)}</h2>']
    if synthetic:
        parts.append(
            '<p class="warning">Synthetic data (data.synthetic: true): generated stand-ins, '
            "not a real result.</p>"
        )
    parts.append(
        f"<p>preset <code>{html.escape(str(preset))}</code>; raw data version "
        f"<code>{html.escape(data_version(root, dataset, paths.raw) or 'not recorded')}</code></p>"
    )
    parts.append("<h3>Results and reference numbers</h3>")
    parts.append(references_table(REFERENCES.get(dataset, ()), metrics["evaluate"], preset,
                                  recorded(root, dataset)))
    for stage, heading, tables in SECTIONS:
        if not (EXPERIMENTS / dataset / f"{stage}.py").exists():
            continue  # the experiment has no such stage (adaptive filters are not trained)
        parts.append(f"<h3>{heading} ({stage})</h3>")
        if metrics[stage] is None:
            parts.append(
                f'<p class="missing">not run yet: {html.escape(str(paths.metrics_file(stage)))} '
                "is missing</p>"
            )
            continue
        parts.append(key_value_table(metrics[stage]))
        folder = paths.stage_dir(stage)
        parts.extend(csv_table(folder / name) for name in tables if (folder / name).exists())
        parts.extend(figure(path) for path in sorted(folder.glob("*.png")))
    return "\n".join(parts)


def stage_figures(paths: ExperimentPaths, stage: str) -> dict[str, Any] | None:
    """A stage's headline metrics and its details; None when it has not run."""
    headline = read_stage_metrics(paths, stage)
    if headline is None:
        return None
    return {**headline, **(read_json(paths.details_file(stage)) or {})}


def references_table(
    references: Sequence[Reference], evaluate: Mapping[str, Any] | None, preset: str,
    reruns: Mapping[str, Mapping[str, Any]],
) -> str:
    """The reference numbers beside this workspace's figure and, for a course setup, the
    figure its preset gave when it was rerun (:mod:`pipeline.report.course`)."""
    if not references:
        return "<p>No reference numbers are recorded for this experiment.</p>"
    rows = []
    for reference in references:
        ours = (evaluate or {}).get(reference.metric)
        rerun = reruns.get(reference.preset or "", {}).get("evaluate", {}).get(reference.metric)
        rows.append(
            (
                "same-setup" if reference.preset == preset else "",
                [
                    reference.source,
                    reference.setup,
                    reference.metric,
                    reference.value,
                    ours if ours is not None else "not measured",
                    reference.preset or "",
                    rerun if rerun is not None else ("not rerun" if reference.preset else ""),
                    reference.note,
                ],
            )
        )
    header = ["source", "setup", "metric", "their number", "this workspace (test set)",
              "preset re-running it", "that preset's rerun (test set)", "note"]
    return table(header, rows)


def key_value_table(values: Mapping[str, Any]) -> str:
    return table(
        ["metric", "value"],
        [("", [key, value if not isinstance(value, dict | list) else json.dumps(value)])
         for key, value in values.items()],
    )


def csv_table(path: Path) -> str:
    frame = pd.read_csv(path)
    shown = frame.head(MAX_TABLE_ROWS)
    caption = f"<p>{html.escape(path.name)}: {len(frame)} rows"
    caption += f" (first {MAX_TABLE_ROWS} shown)</p>" if len(frame) > len(shown) else "</p>"
    rows = [("", [None if pd.isna(v) else v for v in row]) for row in shown.itertuples(False)]
    return caption + table(list(frame.columns), rows)


def table(header: Sequence[str], rows: Iterable[tuple[str, Sequence[Any]]]) -> str:
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in header)
    body = "".join(
        f'<tr class="{css}">' + "".join(cell(value) for value in values) + "</tr>"
        for css, values in rows
    )
    return f'<div class="wide"><table><tr>{head}</tr>{body}</table></div>'


def cell(value: Any) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        text = str(value) if isinstance(value, numbers.Integral) else f"{value:.4g}"
        return f'<td class="number">{text}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.name)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{name}">'
        f"<figcaption>{name}</figcaption></figure>"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.report", description=__doc__)
    parser.add_argument("experiments", nargs="*", help="default: every one with results")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, default=DEFAULT_REPORT)
    args = parser.parse_args(argv)
    try:
        print(write_report(Path.cwd(), args.experiments or None, params_file=args.params,
                           out=args.out))
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
