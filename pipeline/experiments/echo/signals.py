"""The simulated echo-cancellation scene: a speech-like far-end signal, a room's echo path
that may change abruptly, near-end noise at a set echo-to-noise ratio, and the on-disk format
of such a record.

On disk a record named ``name`` is three files in one folder:

* ``<name>.csv``: columns ``sample,far_end,echo,noise,microphone``, one row per sample;
* ``<name>_paths.csv``: columns ``tap,before,after``, the echo path before and after the change
  (the same path twice when there is no change);
* ``<name>.json``: ``{"samples": ..., "taps": ..., "change_at": ...}`` (``change_at`` is null
  when the path never changes).

Floats are written with 17 significant digits and read back with pandas' round-trip parser,
so a loaded record equals the saved one bit for bit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.errors import DataError, ParamsError
from pipeline.ml.numeric_tables import read_numeric_table, write_numeric_table

SIGNAL_COLUMNS = ("sample", "far_end", "echo", "noise", "microphone")
PATH_COLUMNS = ("tap", "before", "after")


def all_pole(excitation: np.ndarray, ar: Sequence[float]) -> np.ndarray:
    """``excitation`` through 1/A(z), A(z) = 1 + ar[0] z^-1 + ..., as the difference equation
    s[k] = excitation[k] - sum_j ar[j] s[k-1-j] (s zero before k = 0). Refuses an unstable
    A(z), whose output would grow without bound."""
    a = np.asarray(ar, dtype=float)
    poles = np.abs(np.roots(np.concatenate([[1.0], a]))) if a.size else np.zeros(0)
    if poles.size and poles.max() >= 1.0:
        raise ParamsError(
            f"ar = {list(map(float, a))}: the all-pole filter 1/A(z) is unstable (largest pole "
            f"magnitude {poles.max():.4g}, must be < 1); choose coefficients whose polynomial "
            "z^p + ar[0] z^(p-1) + ... has all roots inside the unit circle"
        )
    order = a.size
    reversed_ar = a[::-1]
    state = np.zeros(order + len(excitation))  # order leading zeros: the history before k = 0
    for k, value in enumerate(excitation):
        state[k + order] = value - reversed_ar @ state[k : k + order]
    return state[order:]


def far_end_speech_like(n: int, ar: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of a stationary autoregressive process (white Gaussian noise through
    1/A(z)), scaled to unit empirical variance. Its coloured spectrum, like speech's, spreads
    the eigenvalues of the input correlation matrix, which is what slows LMS down."""
    if n < 2:
        raise ParamsError(f"samples = {n}: the far-end signal needs at least 2 samples")
    signal = all_pole(rng.standard_normal(n), ar)
    return signal / signal.std()


def echo_path(
    taps: int, delay: int, decay: float, gain: float, rng: np.random.Generator
) -> np.ndarray:
    """A room impulse response of length ``taps``: ``delay`` leading zeros (the acoustic
    travel time), then Gaussian taps under the envelope exp(-decay * k), scaled to an L2 norm
    of ``gain``."""
    if taps < 1:
        raise ParamsError(f"taps = {taps}: the echo path needs at least one tap")
    if not 0 <= delay < taps:
        raise ParamsError(f"delay = {delay}: must be in [0, taps = {taps})")
    if decay < 0:
        raise ParamsError(f"decay = {decay}: must be >= 0 (a room's echo does not grow)")
    if not gain > 0:
        raise ParamsError(f"gain = {gain}: the echo path's L2 norm must be > 0")
    path = np.zeros(taps)
    path[delay:] = rng.standard_normal(taps - delay) * np.exp(-decay * np.arange(taps - delay))
    return path * (gain / np.linalg.norm(path))


def fir_filter(h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The echo y[k] = sum_i h[i] x[k-i], with x zero before k = 0, as long as ``x``."""
    return np.convolve(x, h)[: len(x)]


@dataclass(frozen=True)
class EchoRecord:
    """One simulated recording. ``paths`` has shape (2, taps): the echo path before and after
    ``change_at`` (both rows equal when ``change_at`` is None: the path never changes)."""

    far_end: np.ndarray
    echo: np.ndarray
    noise: np.ndarray
    microphone: np.ndarray
    paths: np.ndarray
    change_at: int | None

    def path_at(self, k: int) -> np.ndarray:
        """The true echo path in force at sample ``k``."""
        changed = self.change_at is not None and k >= self.change_at
        return self.paths[1 if changed else 0]

    def segments(self) -> dict[str, tuple[int, int]]:
        """The [start, stop) sample ranges with one path each: ``before`` and, when the path
        changes, ``after``."""
        n = len(self.far_end)
        if self.change_at is None:
            return {"before": (0, n)}
        return {"before": (0, self.change_at), "after": (self.change_at, n)}


def simulate_record(
    samples: int,
    ar: Sequence[float],
    taps: int,
    delay: int,
    decay: float,
    gain: float,
    echo_to_noise_db: float,
    change_at: int | None,
    rng: np.random.Generator,
) -> EchoRecord:
    """A far-end signal, its echo through a path that steps to an independent one at
    ``change_at`` (each path filters the whole far-end and the outputs are spliced, so the
    room's memory of earlier samples carries over), and white near-end noise scaled so that
    the *measured* echo-to-noise power ratio is exactly ``echo_to_noise_db``
    (``math.inf``: no noise)."""
    if change_at is not None and not 0 < change_at < samples:
        raise ParamsError(f"change_at = {change_at}: must be in (0, samples = {samples}) or null")
    if math.isnan(echo_to_noise_db):
        raise ParamsError("echo_to_noise_db = nan: give a ratio in dB (or inf for no noise)")
    far_end = far_end_speech_like(samples, ar, rng)
    before = echo_path(taps, delay, decay, gain, rng)
    after = before if change_at is None else echo_path(taps, delay, decay, gain, rng)
    echo = fir_filter(before, far_end)
    if change_at is not None:
        echo[change_at:] = fir_filter(after, far_end)[change_at:]
    white = rng.standard_normal(samples)
    noise_power = np.mean(echo**2) / 10 ** (echo_to_noise_db / 10)
    noise = white * math.sqrt(noise_power / np.mean(white**2))
    return EchoRecord(far_end, echo, noise, echo + noise, np.stack([before, after]), change_at)


def save_record(record: EchoRecord, folder: Path, name: str) -> None:
    """Write ``record`` as the three files described in the module docstring."""
    folder.mkdir(parents=True, exist_ok=True)
    signals = [record.far_end, record.echo, record.noise, record.microphone]
    write_numeric_table(folder / f"{name}.csv", dict(zip(
        SIGNAL_COLUMNS, [np.arange(len(record.far_end)), *signals], strict=True)))
    taps = record.paths.shape[1]
    write_numeric_table(folder / f"{name}_paths.csv", dict(zip(
        PATH_COLUMNS, [np.arange(taps), *record.paths], strict=True)))
    meta = {"samples": len(record.far_end), "taps": taps, "change_at": record.change_at}
    (folder / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")


def _read_meta(path: Path) -> tuple[int, int, int | None]:
    """``samples``, ``taps`` and ``change_at`` from a record's JSON, checked."""
    try:
        meta = json.loads(path.read_text())
        samples, taps, change_at = meta["samples"], meta["taps"], meta["change_at"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(
            f"{path}: not a readable JSON object with the keys samples, taps and change_at "
            f"({type(error).__name__}: {error})"
        ) from error
    if not (isinstance(samples, int) and samples > 0 and isinstance(taps, int) and taps > 0):
        raise DataError(f"{path}: samples = {samples!r} and taps = {taps!r} must be integers > 0")
    if change_at is not None and not (isinstance(change_at, int) and 0 < change_at < samples):
        raise DataError(f"{path}: change_at = {change_at!r} must be null or in (0, {samples})")
    return samples, taps, change_at


def load_record(folder: Path, name: str) -> EchoRecord:
    """Read a record written by :func:`save_record`; a malformed file raises DataError naming
    the file and what is wrong with it."""
    samples, taps, change_at = _read_meta(folder / f"{name}.json")
    signals = read_numeric_table(folder / f"{name}.csv", SIGNAL_COLUMNS, rows=samples,
                                 counter=SIGNAL_COLUMNS[0])
    paths = read_numeric_table(folder / f"{name}_paths.csv", PATH_COLUMNS, rows=taps,
                               counter=PATH_COLUMNS[0])
    return EchoRecord(
        *(signals[column] for column in SIGNAL_COLUMNS[1:]),
        paths=np.stack([paths["before"], paths["after"]]),
        change_at=change_at,
    )
