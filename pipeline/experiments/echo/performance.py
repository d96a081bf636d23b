"""How well an adaptive filter cancelled the echo: ERLE over time and in steady state, the
samples it took to converge, its misadjustment and its misalignment with the true path,
before and after the path change. Every figure is finite; "did not converge" and "undefined"
are None, so metrics never hold NaN or inf.

ERLE (echo return loss enhancement) is written for any pair of signals, a reference and the
residual left of it:

* ``erle_db(microphone, error, ...)`` is what a real canceller can measure: with near-end
  noise present it saturates near the echo-to-noise ratio, since the noise is not echo and
  stays in the error;
* ``erle_db(echo, echo - estimate, ...)`` is the echo suppression itself, which only a
  simulation, knowing the echo, can measure.
"""

from __future__ import annotations

import numpy as np

from pipeline.core.errors import ParamsError
from pipeline.experiments.echo.adaptive import AdaptationResult
from pipeline.experiments.echo.signals import EchoRecord

POWER_FLOOR = np.finfo(float).tiny  # keeps a ratio of powers finite when one is exactly 0


def _db(numerator: np.ndarray | float, denominator: np.ndarray | float) -> np.ndarray:
    return 10 * np.log10(np.maximum(numerator, POWER_FLOOR) / np.maximum(denominator, POWER_FLOOR))


def _moving_power(signal: np.ndarray, window: int) -> np.ndarray:
    """Causal mean of signal² over the last ``window`` samples (fewer at the start). A direct
    convolution, not differences of cumulative sums, which cancel catastrophically once the
    residual is many decades below the early error."""
    counts = np.minimum(np.arange(1, len(signal) + 1), window)
    return np.convolve(np.square(signal), np.ones(window))[: len(signal)] / counts


def erle_db(reference: np.ndarray, residual: np.ndarray, window: int) -> np.ndarray:
    """ERLE over time, 10 log10(moving power of reference / moving power of residual), over a
    causal window of ``window`` samples; as long as the inputs."""
    if window < 1:
        raise ParamsError(f"window = {window}: the ERLE window must be >= 1 sample")
    return _db(_moving_power(reference, window), _moving_power(residual, window))


def _tail(start: int, stop: int, fraction: float) -> int:
    """The first sample of the last ``fraction`` of [start, stop)."""
    if not 0 < fraction <= 1:
        raise ParamsError(f"steady_fraction = {fraction}: must be in (0, 1]")
    return stop - max(1, round(fraction * (stop - start)))


def steady_state_erle_db(
    reference: np.ndarray, residual: np.ndarray, start: int, stop: int, fraction: float
) -> float:
    """Steady-state ERLE: the ratio of the mean powers over the last ``fraction`` of
    [start, stop), in dB. Averaging powers, not the dB of an ERLE curve, keeps a few deep
    dips from dragging the figure down and makes it independent of any window."""
    begin = _tail(start, stop, fraction)
    return float(_db(np.mean(reference[begin:stop] ** 2), np.mean(residual[begin:stop] ** 2)))


def samples_to_converge(
    erle_curve: np.ndarray, steady_db: float, start: int, tolerance_db: float = 3.0, *, hold: int
) -> int | None:
    """Samples after ``start`` until the ERLE curve is within ``tolerance_db`` of
    ``steady_db`` and stays there for ``hold`` samples in a row: the first i >= start with
    curve[i : i + hold] >= steady_db - tolerance_db (pass the curve up to the segment's end;
    None when no such run fits). Holding for about one ERLE window makes the count robust at
    both ends: right after a path change the window still holds converged samples, so the
    curve starts high for a few samples before it drops, and a steady curve fluctuates with
    the far end's local power, so "never below again" would hinge on the last dip. The count
    includes the window's lag, so compare filters at one window."""
    if hold < 1:
        raise ParamsError(f"hold = {hold}: must be >= 1 sample")
    good = np.concatenate([[0], np.cumsum(erle_curve[start:] >= steady_db - tolerance_db)])
    runs = np.flatnonzero(good[hold:] - good[:-hold] == hold)
    return int(runs[0]) if runs.size else None


def misadjustment(residual: np.ndarray, noise: np.ndarray, start: int, stop: int) -> float | None:
    """Excess mean-square error over the minimum, (mean(e²) - mean(v²)) / mean(v²) on
    [start, stop): v, the near-end noise, is what a perfect canceller leaves. None without
    noise, where the minimum is 0 and the ratio undefined."""
    noise_power = float(np.mean(noise[start:stop] ** 2))
    if noise_power == 0:
        return None
    return (float(np.mean(residual[start:stop] ** 2)) - noise_power) / noise_power


def path_error_db(weights: np.ndarray, true_path: np.ndarray) -> float:
    """Normalised misalignment 10 log10(||w - h||² / ||h||²). ``weights`` are cut or
    zero-padded to the path's length: taps beyond the path should be zero, and path taps the
    filter lacks count in full."""
    w = np.zeros(len(true_path))
    w[: min(len(weights), len(w))] = weights[: len(w)]
    return float(_db(np.sum((w - true_path) ** 2), np.sum(true_path**2)))


def summarise(
    record: EchoRecord, result: AdaptationResult, *, window: int, steady_fraction: float
) -> dict[str, float | int | None]:
    """The figures per segment (``before`` and, when the path changes, ``after``), each key
    prefixed with the segment: ``erle_db`` (steady state, microphone over error),
    ``samples_to_converge`` (to within 3 dB of it, held for one window), ``misadjustment``
    (over the same steady tail), ``misalignment_db`` (of the last weight snapshot inside the
    segment, against the path in force) and ``echo_to_noise_db``, the segment's own ratio:
    the ceiling of its ERLE, which differs between segments because the two paths pass
    different shares of the coloured far-end's power. After a divergence only the samples
    before it count, and a segment with none left has None throughout."""
    processed = len(result.error)
    d, e = record.microphone[:processed], result.error
    curve = erle_db(d, e, window)
    figures: dict[str, float | int | None] = {
        "diverged": result.diverged_at is not None,
        "diverged_at": result.diverged_at,
    }
    names = ("erle_db", "samples_to_converge", "misadjustment", "misalignment_db")
    for segment, (start, stop) in record.segments().items():
        figures[f"{segment}_echo_to_noise_db"] = steady_state_erle_db(
            record.echo, record.noise, start, stop, 1.0
        )
        stop = min(stop, processed)
        values: list[float | int | None] = [None] * len(names)
        if stop > start:
            steady = steady_state_erle_db(d, e, start, stop, steady_fraction)
            inside = np.flatnonzero((result.snapshot_at >= start) & (result.snapshot_at < stop))
            values = [
                steady,
                samples_to_converge(curve[:stop], steady, start, hold=window),
                misadjustment(e, record.noise, _tail(start, stop, steady_fraction), stop),
                path_error_db(result.weights[inside[-1]], record.path_at(start))
                if inside.size
                else None,
            ]
        figures.update(
            {f"{segment}_{name}": value for name, value in zip(names, values, strict=True)}
        )
    return figures
