"""Online adaptive FIR filters that learn the echo path from the far-end signal x and the
microphone signal d: LMS (the ADALINE trained by the Widrow-Hoff rule), its sign-output
variant, NLMS and RLS.

All share one loop. At sample k the regressor is u_k = [x[k], x[k-1], ..., x[k-L+1]] (zeros
before k = 0), the echo estimate yhat_k = w·u_k, the a-priori error e_k = d[k] - yhat_k (the
echo-cancelled signal sent back to the far end), then the filter's update of w.

A filter has *diverged* at sample k when e_k or the updated taps are not finite, |e_k| exceeds
1e6 × rms(d), or ||w|| exceeds 1e6 × rms(d) / rms(x) (a gain that would turn the far end into
an echo a million times the microphone's level). The loop then stops: the result holds the
samples before k only, all finite, and records ``diverged_at = k``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.core.errors import ParamsError

DIVERGENCE_FACTOR = 1e6

Update = Callable[[np.ndarray, np.ndarray, float], np.ndarray]  # (w, u_k, e_k) -> new w


@dataclass(frozen=True)
class AdaptationResult:
    """``error`` and ``estimate`` per processed sample; ``weights[i]`` are the taps after the
    update at sample ``snapshot_at[i]``: every ``snapshot_every``-th sample, and always the
    last processed one, so ``weights[-1]`` are the final taps."""

    error: np.ndarray
    estimate: np.ndarray
    weights: np.ndarray
    snapshot_at: np.ndarray
    diverged_at: int | None


def _regressors(x: np.ndarray, taps: int) -> np.ndarray:
    """A read-only (len(x), taps) view whose row k is u_k, each row contiguous in memory."""
    padded_reversed = np.concatenate([np.zeros(taps - 1), x])[::-1].copy()
    return np.lib.stride_tricks.sliding_window_view(padded_reversed, taps)[::-1]


def _rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(signal**2)))


def _adapt(
    x: np.ndarray,
    d: np.ndarray,
    taps: int,
    snapshot_every: int,
    update: Update,
    output: Callable[[float], float] = float,
) -> AdaptationResult:
    """The shared loop; ``output`` maps w·u_k to the estimate (identity for a linear
    filter)."""
    x, d = np.asarray(x, dtype=float), np.asarray(d, dtype=float)
    if x.ndim != 1 or x.shape != d.shape or not x.size:
        raise ValueError(f"x and d must be 1-D and equally long, got {x.shape} and {d.shape}")
    if taps < 1:
        raise ParamsError(f"taps = {taps}: the adaptive filter needs at least one tap")
    if snapshot_every < 1:
        raise ParamsError(f"snapshot_every = {snapshot_every}: must be >= 1")
    d_rms, x_rms = _rms(d), _rms(x)
    error_limit = DIVERGENCE_FACTOR * d_rms
    weight_limit = DIVERGENCE_FACTOR * d_rms / x_rms if x_rms > 0 else np.inf
    error, estimate = np.empty(len(d)), np.empty(len(d))
    snapshots, snapshot_at = [], []
    w = np.zeros(taps)
    diverged_at = None
    for k, u in enumerate(_regressors(x, taps)):
        yhat = output(w @ u)
        e = d[k] - yhat
        new_w = update(w, u, e)
        # written so that NaN fails the test too
        if not (abs(e) <= error_limit and np.sqrt(new_w @ new_w) <= weight_limit):
            diverged_at = k
            break
        w = new_w  # updates return a new array, so the snapshots need no copy
        error[k], estimate[k] = e, yhat
        if (k + 1) % snapshot_every == 0:
            snapshots.append(w)
            snapshot_at.append(k)
    processed = len(d) if diverged_at is None else diverged_at
    if processed and (not snapshot_at or snapshot_at[-1] != processed - 1):
        snapshots.append(w)
        snapshot_at.append(processed - 1)
    return AdaptationResult(
        error=error[:processed],
        estimate=estimate[:processed],
        weights=np.array(snapshots).reshape(len(snapshots), taps),
        snapshot_at=np.array(snapshot_at, dtype=int),
        diverged_at=diverged_at,
    )


def lms_stability_bound(x: np.ndarray, taps: int) -> float:
    """2 / (L · mean(x²)) = 2 / tr(R), R the regressor's correlation matrix: the classic
    conservative bound on the LMS step (it is <= 2 / λ_max, so the mean taps converge below
    it). It is an upper limit, not a safe setting: for white Gaussian input the mean-square
    error only stays bounded below about 2 / ((L + 2) mean(x²)), and steps that converge well
    are a quarter of the bound or less."""
    power = float(np.mean(np.square(x)))
    return 2.0 / (taps * power) if power > 0 else np.inf


def _lms_update(step: float) -> Update:
    return lambda w, u, e: w + (step * e) * u


def _check_step(step: float) -> None:
    if not step > 0:
        raise ParamsError(f"step = {step}: the adaptation step must be > 0")


def lms(
    x: np.ndarray,
    d: np.ndarray,
    *,
    taps: int,
    step: float,
    snapshot_every: int,
    allow_unstable: bool = False,
) -> AdaptationResult:
    """LMS (Widrow-Hoff): w += step · e · u. A step at or above :func:`lms_stability_bound`
    is refused unless ``allow_unstable``, which lets a run show the divergence being
    reported in ``diverged_at``."""
    _check_step(step)
    bound = lms_stability_bound(x, taps)
    if step >= bound and not allow_unstable:
        raise ParamsError(
            f"step = {step}: at or above the LMS stability bound 2 / (taps · power(x)) = "
            f"{bound:.4g}; use a step well below it (a quarter or less), or NLMS, whose step is "
            "normalised by the input power and is stable for any 0 < step < 2"
        )
    return _adapt(x, d, taps, snapshot_every, _lms_update(step))


def sign_lms(
    x: np.ndarray, d: np.ndarray, *, taps: int, step: float, snapshot_every: int
) -> AdaptationResult:
    """The ADALINE with a sign activation: the estimate is sign(w·u) and the update uses that
    output's error, e = d - sign(w·u), w += step · e · u.

    It cannot cancel an echo: the neuron's output is only ever -1, 0 or +1, so the estimate
    cannot follow the echo's amplitude, and the residual d - sign(w·u) is not reduced (for an
    echo much quieter than 1 it is louder than the echo itself). It is kept to show why the
    linear output of LMS is needed, not as a canceller."""
    _check_step(step)
    return _adapt(x, d, taps, snapshot_every, _lms_update(step), output=np.sign)


def nlms(
    x: np.ndarray,
    d: np.ndarray,
    *,
    taps: int,
    step: float,
    regularization: float,
    snapshot_every: int,
) -> AdaptationResult:
    """Normalised LMS: w += step · e · u / (regularization + u·u); stable for 0 < step < 2
    whatever the input level. ``regularization`` keeps the first, nearly empty regressors
    from producing huge steps."""
    if not 0 < step < 2:
        raise ParamsError(f"step = {step}: the NLMS step must be in (0, 2)")
    if not regularization > 0:
        raise ParamsError(f"regularization = {regularization}: must be > 0")

    def update(w: np.ndarray, u: np.ndarray, e: float) -> np.ndarray:
        return w + (step * e / (regularization + u @ u)) * u

    return _adapt(x, d, taps, snapshot_every, update)


def rls(
    x: np.ndarray,
    d: np.ndarray,
    *,
    taps: int,
    forgetting: float,
    delta: float,
    snapshot_every: int,
) -> AdaptationResult:
    """Exponentially weighted RLS. The inverse correlation estimate starts at P(0) = I / delta
    (the correlation matrix R(0) = delta · I, delta small and positive: about 1e-2 of the
    input power gives fast, well-regularised start-up). Each sample:
    π = P u, g = π / (forgetting + u·π), w += g e, P = (P - g πᵀ) / forgetting, and P is
    symmetrised, (P + Pᵀ) / 2, so rounding cannot drive it indefinite. The memory is about
    1 / (1 - forgetting) samples: shorter tracks a changing path faster but is noisier."""
    if not 0 < forgetting <= 1:
        raise ParamsError(f"forgetting = {forgetting}: the RLS forgetting factor must be in (0, 1]")
    if not delta > 0:
        raise ParamsError(f"delta = {delta}: the RLS initialisation P(0) = I / delta needs > 0")
    inverse_correlation = np.eye(taps) / delta

    def update(w: np.ndarray, u: np.ndarray, e: float) -> np.ndarray:
        nonlocal inverse_correlation
        pi = inverse_correlation @ u
        gain = pi / (forgetting + u @ pi)
        p = (inverse_correlation - np.outer(gain, pi)) / forgetting
        inverse_correlation = (p + p.T) / 2
        return w + gain * e

    return _adapt(x, d, taps, snapshot_every, update)
