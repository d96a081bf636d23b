"""The HTML report: one self-contained page of every experiment's results, readable offline."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from dvc_project import stage_metrics, write_params
from PIL import Image

from pipeline.cli import main
from pipeline.core.errors import DataError, PipelineError
from pipeline.report import course
from pipeline.report.report import write_report

DATA_URI = re.compile(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)">')


def workspace(root: Path, metrics: dict[str, str]) -> Path:
    """A workspace whose stages wrote ``metrics`` (file name → text) and a training curve."""
    write_params(root, {"seed": 1, "mnist.preset": "report_d_fixed_cnn"})
    folder = root / "metrics" / "mnist"
    folder.mkdir(parents=True)
    for name, text in metrics.items():
        (folder / name).write_text(text)
    models = root / "data" / "models" / "mnist"
    models.mkdir(parents=True)
    Image.fromarray(np.full((20, 30, 3), 200, "uint8")).save(models / "history.png")
    return root


def test_report_of_a_partial_workspace_marks_what_has_not_run(tmp_path, monkeypatch) -> None:
    root = workspace(tmp_path, {"train.json": json.dumps(
        {"mnist": {"best_val_loss": 0.125, "synthetic": False}})})
    monkeypatch.chdir(root)
    assert main(["report", "--out", "out/report.html"]) == 0
    page = (root / "out" / "report.html").read_text()
    for stage in ("preprocess", "tune", "evaluate", "explain"):
        assert f"not run yet: {root / 'metrics' / 'mnist' / f'{stage}.json'} is missing" in page
    assert "best_val_loss" in page
    assert [alt for _, alt in DATA_URI.findall(page)] == ["history.png"]
    assert "Synthetic data" not in page
    # the reference row whose setup this preset re-runs is marked; no test metric yet
    assert re.search(r'<tr class="same-setup"><td>course report D</td>.*?not measured', page)


def test_a_presets_rerun_is_recorded_and_stands_beside_its_course_report(tmp_path) -> None:
    root = workspace(tmp_path, {"evaluate.json": json.dumps(
        {"mnist": {"accuracy": 0.9912, "synthetic": False}})})
    (root / "metrics" / "mnist" / "timings.csv").write_text(
        "stage,timing,value\ntrain,seconds,300.5\nevaluate,seconds,4.0\n")
    record = json.loads(course.record(root, "mnist").read_text())
    assert (record["preset"], record["evaluate"]["accuracy"]) == ("report_d_fixed_cnn", 0.9912)
    assert record["stage_seconds"] == {"train": 300.5, "evaluate": 4.0}
    # the workspace back at the default with its own figure: both stand in the table
    write_params(root, {"seed": 1})
    (root / "metrics" / "mnist" / "evaluate.json").write_text(json.dumps(
        {"mnist": {"accuracy": 0.9951, "synthetic": False}}))
    write_report(root, params_file=Path("params.yaml"), out=Path("report.html"))
    page = (root / "report.html").read_text()
    row = re.search(r"<tr[^>]*><td>course report D</td>.*?</tr>", page).group(0)
    assert '<td class="number">0.9951</td>' in row and '<td class="number">0.9912</td>' in row
    row = re.search(r"<tr[^>]*><td>course report A</td>.*?</tr>", page).group(0)
    assert "not rerun" in row
    # only a preset's real results are recorded
    with pytest.raises(PipelineError, match=r"mnist\.preset is 'default'"):
        course.record(root, "mnist")
    write_params(root, {"seed": 1, "mnist.preset": "report_a_random_search"})
    (root / "metrics" / "mnist" / "evaluate.json").write_text(json.dumps(
        {"mnist": {"accuracy": 0.5, "synthetic": True}}))
    with pytest.raises(PipelineError, match="synthetic"):
        course.record(root, "mnist")


def test_a_corrupt_metrics_file_is_named(tmp_path) -> None:
    root = workspace(tmp_path, {"evaluate.json": '{"accuracy": 0.9'})
    with pytest.raises(DataError, match=r"metrics/mnist/evaluate\.json: not valid JSON"):
        write_report(root, params_file=Path("params.yaml"), out=Path("report.html"))
    assert not (root / "report.html").exists()


@pytest.mark.slow
def test_the_report_stage_writes_a_self_contained_page(repro_project: Path) -> None:
    page = (repro_project / "reports" / "report.html").read_text()
    lock = yaml.safe_load((repro_project / "dvc.lock").read_text())
    assert lock["stages"]["report"]["outs"][0]["path"] == "reports/report.html"
    # offline: every image is embedded, nothing is fetched (no src/href leaves the page)
    assert re.findall(r'(?:src|href)="(?!data:|#)[^"]*"', page) == []
    assert "<script" not in page and "<link" not in page
    images = DATA_URI.findall(page)
    pngs = sorted(path.name for stage in ("tune", "models", "evaluate", "explain")
                  for path in (repro_project / "data" / stage / "mnist").glob("*.png"))
    assert sorted(alt for _, alt in images) == pngs
    assert {"history.png", "confusion_matrix.png", "gradcam_wrong_true_class.png"} <= set(pngs)
    for data, alt in images:
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            assert image.size[0] > 100 and image.size[1] > 100, alt
    evaluate = stage_metrics(repro_project, "mnist", "evaluate")
    # our test accuracy stands beside each reference number
    assert page.count(f'<td class="number">{evaluate["accuracy"]:.4g}</td>') >= 6
    assert "Synthetic data (data.synthetic: true)" in page
    assert "trials.csv: 2 rows" in page
