"""explain@sysid: the figures. The report system's impulse response as the report drew it
(sign times log magnitude: it grows as 4^n), beside ``scipy.signal.lfilter``'s and the closed
form 2 (-4)^n; each model's coefficients against the truth; the identified models simulated
free-running over the held-out record."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.signal import lfilter

from pipeline.core.context import StageContext, StageResult
from pipeline.core.outputs import read_json
from pipeline.core.runner import main
from pipeline.experiments.sysid.layout import COEFFICIENTS_FILE, FREE_RUN_FILE, MODELS
from pipeline.experiments.sysid.params import EXPERIMENT
from pipeline.experiments.sysid.systems import REGRESSORS, System, signed_log_magnitude
from pipeline.ml.plots import save_figure

FREE_RUN_SHOWN = 200  # samples of the held-out record in the figure


def explain(ctx: StageContext) -> StageResult:
    download = ctx.params.download
    samples = np.arange(download.impulse_samples)
    impulse = (samples == 0).astype(float)
    responses = {}
    for name, section in (("report", download.report_system),
                          ("stable", download.stable_system)):
        system = System.from_params(section)
        responses[name] = system.impulse_response(len(samples))
        responses[f"{name}_lfilter"] = lfilter(*system.transfer_function, impulse)
    frame = pd.DataFrame({"n": samples, **responses,
                          "report_signed_log10": signed_log_magnitude(responses["report"])})
    frame.to_csv(ctx.plots / "impulse_response.csv", index=False, float_format="%.10g")
    plot_impulse_responses(frame, ctx.out / "impulse_response.png")

    coefficients = read_json(ctx.paths.evaluate / COEFFICIENTS_FILE)
    rows = pd.DataFrame([{"system": system, "regressor": regressor,
                          **{name: values[name][index] for name in ("truth", *MODELS)}}
                         for system, values in coefficients.items()
                         for index, regressor in enumerate(REGRESSORS)])
    rows.to_csv(ctx.plots / "coefficients.csv", index=False, float_format="%.8g")
    plot_coefficients(rows, ctx.out / "coefficients.png")
    plot_free_run(pd.read_csv(ctx.paths.evaluate / FREE_RUN_FILE),
                  ctx.out / "free_run_held_out.png")
    deviation = max(float(np.max(np.abs(responses[name] - responses[f"{name}_lfilter"])
                                 / np.maximum(np.abs(responses[name]), 1.0)))
                    for name in ("report", "stable"))
    return StageResult({"impulse_response_deviation_from_lfilter": deviation},
                       {"report_impulse_response": responses["report"].tolist()})


def plot_impulse_responses(frame: pd.DataFrame, path: Path) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.stem(frame["n"], frame["report_signed_log10"], basefmt="k-")
    left.plot(frame["n"], signed_log_magnitude(frame["report_lfilter"].to_numpy()), "x",
              color="tab:red", label="lfilter")
    left.plot(frame["n"], signed_log_magnitude(2 * (-4.0) ** frame["n"].to_numpy()), "+",
              color="k", label="2 (-4)^n")
    left.set(title="report system: sign(h) log10|h| (unstable)", xlabel="n")
    left.legend()
    right.stem(frame["n"], frame["stable"], basefmt="k-")
    right.plot(frame["n"], frame["stable_lfilter"], "x", color="tab:red", label="lfilter")
    right.set(title="stable system: h[n]", xlabel="n")
    right.legend()
    for axis in (left, right):
        axis.grid(alpha=0.3)
    save_figure(figure, path)


def plot_coefficients(rows: pd.DataFrame, path: Path) -> None:
    systems = list(dict.fromkeys(rows["system"]))
    figure, axes = plt.subplots(1, len(systems), figsize=(6 * len(systems), 3.8))
    width = 0.2
    for axis, system in zip(np.atleast_1d(axes), systems, strict=True):
        part = rows[rows["system"] == system]
        positions = np.arange(len(part))
        for offset, name in enumerate(("truth", *MODELS)):
            axis.bar(positions + (offset - 1.5) * width, part[name], width, label=name)
        axis.set_xticks(positions, part["regressor"])
        axis.set(title=f"{system} system: coefficients")
        axis.axhline(0, color="k", linewidth=0.6)
        axis.grid(alpha=0.3, axis="y")
        axis.legend(fontsize=8)
    save_figure(figure, path)


def plot_free_run(frame: pd.DataFrame, path: Path) -> None:
    """The outputs (top) and each model's free-run error against the noise-free output."""
    shown = frame.head(FREE_RUN_SHOWN)
    figure, (outputs, errors) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    outputs.plot(shown["k"], shown["measured"], color="0.6", linewidth=2.5, label="measured")
    for name in MODELS:
        outputs.plot(shown["k"], shown[name], linewidth=1, label=name)
        errors.plot(shown["k"], shown[name] - shown["noise_free"], linewidth=1, label=name)
    outputs.set(title="stable system, held-out record: free-run simulation")
    errors.set(title="free-run error (prediction − noise-free output)", xlabel="k")
    for axis in (outputs, errors):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, ncol=4)
    save_figure(figure, path)


if __name__ == "__main__":
    main(EXPERIMENT, "explain", explain)
