"""download@sysid: the data are simulated, not downloaded. The report system's rows are drawn
as the report drew them (it is unstable: its output overflows within a few dozen samples, so
no record of it can be simulated); the stable system gives one identification record and one
held-out record, as an experimenter would measure them. Everything follows from params and
the seed; the files are described in :mod:`pipeline.experiments.sysid.records`."""

from __future__ import annotations

import numpy as np

from pipeline.core.context import Metrics, StageContext
from pipeline.core.errors import ParamsError
from pipeline.core.outputs import folder_summary, write_json_atomic
from pipeline.core.runner import main
from pipeline.experiments.sysid import records
from pipeline.experiments.sysid.params import EXPERIMENT, InputRecord
from pipeline.experiments.sysid.systems import System
from pipeline.ml.numeric_tables import write_numeric_table


def draw_input(record: InputRecord, samples: int, rng: np.random.Generator) -> np.ndarray:
    if record.input == "uniform":
        return rng.uniform(-record.amplitude, record.amplitude, samples)
    return rng.normal(0.0, record.amplitude, samples)


def download(ctx: StageContext) -> Metrics:
    params = ctx.params.download
    report = System.from_params(params.report_system)
    stable = System.from_params(params.stable_system)
    if not stable.is_stable:
        raise ParamsError(
            f"sysid.download.stable_system: poles {np.round(stable.poles, 4).tolist()} are not "
            "all inside the unit circle, so its free-run simulation would diverge")

    rng = ctx.rng("report-regressors")
    drawn = rng.uniform(params.drawn.low, params.drawn.high, (params.drawn.samples, 5))
    target = drawn @ report.coefficients
    target += rng.normal(0.0, params.report_system.noise_std, len(target))
    write_numeric_table(ctx.out / records.REGRESSOR_FILE, dict(zip(
        records.REGRESSOR_COLUMNS, [*drawn.T, target], strict=True)))

    lengths = {"identification": params.record.identification_samples,
               "held_out": params.record.held_out_samples}
    for part, samples in lengths.items():
        rng = ctx.rng(f"stable-{part}")
        x = draw_input(params.record, samples, rng)
        y_true = stable.simulate(x)
        y = y_true + rng.normal(0.0, params.stable_system.noise_std, samples)
        write_numeric_table(ctx.out / records.RECORD_FILES[part],
                            {"k": np.arange(samples), "x": x, "y": y, "y_true": y_true})

    write_json_atomic(ctx.out / records.SYSTEMS_FILE, {
        "format": records.__doc__,
        "equation": "y[k] = b0 x[k] + b1 x[k-1] + b2 x[k-2] + c1 y[k-1] + c2 y[k-2] (+ noise)",
        **{name: {"b": list(system.input_coefficients), "c": list(system.output_coefficients),
                  "noise_std": section.noise_std,
                  "poles": [[float(p.real), float(p.imag)] for p in system.poles],
                  "stable": system.is_stable}
           for name, system, section in (("report_system", report, params.report_system),
                                          ("stable_system", stable, params.stable_system))},
    })
    return {**folder_summary(ctx.out), "report_rows": params.drawn.samples,
            "stable_samples": sum(lengths.values())}


if __name__ == "__main__":
    main(EXPERIMENT, "download", download)
