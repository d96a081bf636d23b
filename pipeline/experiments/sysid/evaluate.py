"""evaluate@sysid: the test rows, read here for the first time. For each system: one-step
test MSE of the NARX network, the ADALINE and least squares; the coefficients each gives
(the network's from its Jacobian) against the truth; for noisy data, the least-squares errors
in units of their theoretical standard errors. For the stable system, free-run simulation of
each model over the held-out record, scored by NRMSE."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from pipeline.core.context import StageContext, StageResult
from pipeline.core.outputs import write_json_atomic
from pipeline.core.runner import main
from pipeline.experiments.sysid import records
from pipeline.experiments.sysid.layout import (
    COEFFICIENTS_FILE,
    FREE_RUN_FILE,
    LINEAR_FILE,
    MODELS,
    SYSTEMS,
)
from pipeline.experiments.sysid.linear import errors_in_variables_bias, standard_errors
from pipeline.experiments.sysid.narx import jacobian, predict
from pipeline.experiments.sysid.params import EXPERIMENT
from pipeline.experiments.sysid.scores import mse, nrmse, relative_error
from pipeline.experiments.sysid.systems import System, free_run
from pipeline.ml.predict import load_trained_model
from pipeline.ml.split_files import load_split


def noise_figures(system: str, x: np.ndarray, y: np.ndarray, error: np.ndarray,
                  noise_std: float, truth: System, record: dict, step: float
                  ) -> dict[str, float]:
    """How far the least-squares error is from what theory predicts, in standard errors.
    Drawn rows with noise on the target only (the report system): no bias (and the ADALINE's
    steady-state wander, for its LMS ``step``). A recorded output with measurement noise (the
    stable system): the errors-in-variables bias."""
    if noise_std == 0:
        return {}
    predicted_bias = (errors_in_variables_bias(x, noise_std, truth.output_coefficients)
                      if system == "stable" else np.zeros(len(error)))
    errors = standard_errors(x, y - x @ (truth.coefficients + error))
    record |= {"least_squares_standard_error": errors.tolist(),
               "least_squares_predicted_bias": predicted_bias.tolist()}
    figures = {}
    if system == "report":
        # LMS at a fixed step keeps moving in steady state: each weight wanders around the
        # least-squares solution with an rms of about sqrt(step σ² / 2) (small steps)
        adaline_error = np.array(record["adaline"]) - truth.coefficients
        figures = {"report_adaline_rms_coefficient_error": float(
                       np.sqrt(np.mean(adaline_error**2))),
                   "report_adaline_predicted_rms_coefficient_error": float(
                       np.sqrt(step * noise_std**2 / 2))}
    return figures | {f"{system}_least_squares_max_error_in_standard_errors":
            float(np.max(np.abs(error) / errors)),
            f"{system}_least_squares_max_error_beyond_predicted_bias_in_standard_errors":
            float(np.max(np.abs(error - predicted_bias) / errors))}


def evaluate(ctx: StageContext) -> StageResult:
    download = ctx.params.download
    truths = {"report": System.from_params(download.report_system),
              "stable": System.from_params(download.stable_system)}
    noise = {"report": download.report_system.noise_std,
             "stable": download.stable_system.noise_std}
    metrics, details, coefficients = {}, {}, {}
    for system in SYSTEMS:
        truth = truths[system].coefficients
        x_train, y_train = load_split(ctx.paths.processed, f"{system}_train")
        x_test, y_test = load_split(ctx.paths.processed, f"{system}_test")
        model = load_trained_model(ctx.paths.model / system)
        linear = json.loads((ctx.paths.model / system / LINEAR_FILE).read_text())
        # the network's linear coefficients: its Jacobian averaged over the operating region
        # (the training rows); at the resting point alone, sigmoid curvature tilts them
        slopes = jacobian(model, x_train, x_train.std(axis=0))
        at_rest = jacobian(model, np.zeros((1, x_train.shape[1])), x_train.std(axis=0))[0]
        weights = {"narx": slopes.mean(axis=0), "adaline": np.array(linear["adaline"]),
                   "least_squares": np.array(linear["least_squares"])}
        outputs = {"narx": predict(model, x_test), "adaline": x_test @ weights["adaline"],
                   "least_squares": x_test @ weights["least_squares"]}
        for name in MODELS:
            metrics[f"{system}_{name}_test_mse"] = mse(outputs[name], y_test)
            error = weights[name] - truth
            details[f"{system}_{name}_max_coefficient_error"] = float(np.abs(error).max())
            details[f"{system}_{name}_relative_coefficient_error"] = relative_error(
                weights[name], truth)
        details[f"{system}_narx_relative_coefficient_error_at_rest"] = relative_error(
            at_rest, truth)
        details[f"{system}_narx_jacobian_spread"] = slopes.std(axis=0).tolist()
        coefficients[system] = {"truth": truth.tolist(), "narx_at_rest": at_rest.tolist(),
                                **{name: weights[name].tolist() for name in MODELS}}
        details |= noise_figures(system, x_train, y_train, weights["least_squares"] - truth,
                                 noise[system], truths[system], coefficients[system],
                                 ctx.params.train.adaline.step)
        metrics[f"{system}_narx_jacobian_error"] = details[
            f"{system}_narx_relative_coefficient_error"]
    metrics["report_adaline_max_coefficient_error"] = details[
        "report_adaline_max_coefficient_error"]
    metrics["report_least_squares_max_coefficient_error"] = details[
        "report_least_squares_max_coefficient_error"]

    held_out = records.read_record(ctx.paths.raw, "held_out")
    x, y = held_out["x"], held_out["y"]
    model = load_trained_model(ctx.paths.model / "stable")
    adaline, exact = (np.array(coefficients["stable"][name]) for name in MODELS[1:])
    steps = {"narx": lambda row: model(row.astype("float32"), training=False),
             "adaline": lambda row: row @ adaline, "least_squares": lambda row: row @ exact}
    simulated = {name: free_run(step, x, y[:2]) for name, step in steps.items()}
    for name, predicted in simulated.items():
        metrics[f"stable_{name}_free_run_nrmse"] = nrmse(predicted[2:], y[2:])
        details[f"stable_{name}_free_run_nrmse_noise_free"] = nrmse(
            predicted[2:], held_out["y_true"][2:])
    pd.DataFrame({"k": held_out["k"], "measured": y, "noise_free": held_out["y_true"],
                  **simulated}).to_csv(ctx.out / FREE_RUN_FILE, index=False,
                                       float_format="%.6g")
    write_json_atomic(ctx.out / COEFFICIENTS_FILE, coefficients)
    return StageResult(metrics, details)


if __name__ == "__main__":
    main(EXPERIMENT, "evaluate", evaluate)
