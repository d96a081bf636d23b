"""System identification: the simulators against lfilter, least squares and LMS against
theory, the Jacobian reading, clear errors on bad records, and the six stages end to end."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from dvc_project import write_params
from mlflow import MlflowClient
from scipy.signal import lfilter

from pipeline.cli import run_stage
from pipeline.core.errors import DataError, ParamsError
from pipeline.core.paths import STAGES, ExperimentPaths
from pipeline.experiments.sysid import records
from pipeline.experiments.sysid.linear import (
    adaline,
    errors_in_variables_bias,
    least_squares,
    lms_stability_bound,
    standard_errors,
)
from pipeline.experiments.sysid.narx import jacobian
from pipeline.experiments.sysid.systems import System, free_run, regressors
from pipeline.tracking.store import experiment_name

REPORT = System((2.0, 4.0, 0.0), (-6.0, -8.0))
STABLE = System((1.0, 0.5, 0.0), (1.2, -0.5))
TRUTH = np.array([2.0, 4.0, 0.0, -6.0, -8.0])


@pytest.mark.parametrize("system", [REPORT, STABLE], ids=["report", "stable"])
def test_simulation_matches_lfilter(system: System) -> None:
    x = np.random.default_rng(0).uniform(-1, 1, 20 if system is REPORT else 2000)
    expected = lfilter(*system.transfer_function, x)
    np.testing.assert_allclose(system.simulate(x), expected, rtol=1e-9, atol=1e-9)


def test_report_system_is_unstable_with_the_closed_form_impulse_response() -> None:
    """The pole-zero cancellation leaves h[n] = 2 (-4)^n."""
    assert not REPORT.is_stable and STABLE.is_stable
    np.testing.assert_allclose(REPORT.impulse_response(15), 2 * (-4.0) ** np.arange(15))


def test_free_run_of_the_true_model_reproduces_the_system() -> None:
    x = np.random.default_rng(1).uniform(-1, 1, 500)
    y = STABLE.simulate(x)
    np.testing.assert_allclose(free_run(lambda row: row @ STABLE.coefficients, x, y[:2]), y,
                               atol=1e-12)
    rows, targets = regressors(x, y)
    np.testing.assert_allclose(rows @ STABLE.coefficients, targets, atol=1e-12)


def test_noise_free_adaline_and_least_squares_recover_the_report_weights() -> None:
    rng = np.random.default_rng(2)
    rows = rng.uniform(-1, 1, (1000, 5))
    weights, curve = adaline(rows, rows @ TRUTH, step=0.05, epochs=10, rng=rng)
    assert np.abs(weights - TRUTH).max() < 1e-3
    assert curve[-1] < curve[0]
    assert np.abs(least_squares(rows, rows @ TRUTH) - TRUTH).max() < 1e-9


def test_noisy_least_squares_lands_where_theory_says() -> None:
    """White noise on the target: unbiased, each weight within 4 standard errors."""
    rng = np.random.default_rng(3)
    rows = rng.uniform(-1, 1, (4000, 5))
    targets = rows @ TRUTH + rng.normal(0, 0.3, len(rows))
    estimate = least_squares(rows, targets)
    errors = standard_errors(rows, targets - rows @ estimate)
    assert np.all(np.abs(estimate - TRUTH) < 4 * errors)
    np.testing.assert_allclose(errors, 0.3 * np.sqrt(3 / len(rows)), rtol=0.1)


def test_errors_in_variables_bias_explains_least_squares_on_noisy_records() -> None:
    """Measurement noise on the recorded output biases series-parallel least squares by far
    more than its standard errors, and by what theory predicts."""
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, 100_000)
    y = STABLE.simulate(x) + rng.normal(0, 0.1, len(x))
    rows, targets = regressors(x, y)
    estimate = least_squares(rows, targets)
    errors = standard_errors(rows, targets - rows @ estimate)
    bias = errors_in_variables_bias(rows, 0.1, STABLE.output_coefficients)
    assert np.abs(estimate - STABLE.coefficients).max() > 10 * errors.max()
    assert np.all(np.abs(estimate - STABLE.coefficients - bias) < 4 * errors)


def test_lms_refuses_a_step_beyond_its_stability_bound() -> None:
    rows = np.random.default_rng(5).uniform(-1, 1, (200, 5))
    bound = lms_stability_bound(rows)
    assert bound == pytest.approx(2 / (5 / 3), rel=0.1)
    with pytest.raises(ParamsError, match="stability bound"):
        adaline(rows, rows @ TRUTH, step=bound * 1.01, epochs=1,
                rng=np.random.default_rng(0))


def test_jacobian_of_a_linear_network_is_its_weights() -> None:
    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    rows = np.random.default_rng(6).normal(size=(10, 5))
    slopes = jacobian(model, rows, np.ones(5))
    np.testing.assert_allclose(slopes, np.tile(model.layers[1].get_weights()[0][:, 0], (10, 1)),
                               rtol=1e-3, atol=1e-3)


def test_bad_records_are_named_by_file_line_and_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"k": range(4), "x": [0.1, 0.2, np.nan, 0.4], "y": 1.0,
                          "y_true": 1.0})
    frame.to_csv(tmp_path / records.RECORD_FILES["held_out"], index=False)
    with pytest.raises(DataError, match=r"stable_held_out.csv: line 4 .*column 'x'"):
        records.read_record(tmp_path, "held_out")
    frame.drop(columns="y_true").fillna(0).to_csv(tmp_path / records.RECORD_FILES["held_out"],
                                                  index=False)
    with pytest.raises(DataError, match="expected"):
        records.read_record(tmp_path, "held_out")


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_stages_end_to_end(tmp_path: Path, tracking_uri: str, noise: float) -> None:
    params = write_params(tmp_path, {
        "sysid.download.report_system.noise_std": noise,
        "sysid.download.drawn.samples": 800,
        "sysid.download.record.identification_samples": 800,
        "sysid.download.record.held_out_samples": 300,
        "sysid.tune.max_trials": 2,
        "sysid.tune.epochs": 4,
        "sysid.train.epochs": 6,
    })
    metrics = {stage: run_stage(stage, "sysid", params_file=params, root=tmp_path)
               for stage in STAGES}
    evaluate = metrics["evaluate"]
    assert evaluate["simulated"] is True and evaluate["synthetic"] is False
    paths = ExperimentPaths(tmp_path, "sysid")
    if noise:  # where theory says
        details = json.loads(paths.details_file("evaluate").read_text())
        assert details["report_least_squares_max_error_in_standard_errors"] < 4
        assert details["report_adaline_rms_coefficient_error"] < 3 * details[
            "report_adaline_predicted_rms_coefficient_error"]
        return
    assert evaluate["report_adaline_max_coefficient_error"] < 1e-3
    assert evaluate["report_least_squares_max_coefficient_error"] < 1e-9
    assert all(np.isfinite(value) for value in evaluate.values() if isinstance(value, float))
    assert 0 < evaluate["stable_least_squares_free_run_nrmse"] < 0.2
    assert metrics["explain"]["impulse_response_deviation_from_lfilter"] < 1e-9
    coefficients = json.loads((paths.evaluate / "coefficients.json").read_text())
    assert coefficients["report"]["truth"] == TRUTH.tolist()
    assert {p.name for p in paths.explain.glob("*.png")} == {
        "impulse_response.png", "coefficients.png", "free_run_held_out.png"}
    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment_name()).experiment_id],
                              "tags.stage = 'evaluate'")
    assert runs[0].data.tags["simulated"] == "true"
