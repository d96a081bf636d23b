"""download@echo: the data are simulated, not downloaded: a tuning record (for choosing each
filter's step) and a test record (for the results), each a speech-like far-end signal, its
echo through a room response that changes mid-record, and near-end noise. The files are
described in :mod:`pipeline.experiments.echo.signals`."""

from __future__ import annotations

from pipeline.core.context import Metrics, StageContext
from pipeline.core.outputs import folder_summary
from pipeline.core.runner import main
from pipeline.experiments.echo.layout import RECORDS
from pipeline.experiments.echo.params import EXPERIMENT
from pipeline.experiments.echo.signals import save_record, simulate_record


def download(ctx: StageContext) -> Metrics:
    params = ctx.params.download
    path = params.echo_path
    for name in RECORDS:
        record = simulate_record(
            params.samples, params.far_end_ar, path.taps, path.delay, path.decay, path.gain,
            params.echo_to_noise_db, params.change_at, ctx.rng(f"record-{name}"))
        save_record(record, ctx.out, name)
    return {**folder_summary(ctx.out), "samples": params.samples * len(RECORDS)}


if __name__ == "__main__":
    main(EXPERIMENT, "download", download)
