"""The linear identifications: the ADALINE (one linear neuron trained by the LMS rule) and the
closed-form least-squares solution it should reach, with the standard errors that least-squares
theory gives when the target carries white noise."""

from __future__ import annotations

import numpy as np

from pipeline.core.errors import ParamsError


def least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin ||x w - y||² (no intercept: the systems have none)."""
    return np.linalg.lstsq(x, y, rcond=None)[0]


def standard_errors(x: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    """Standard error of each least-squares weight, sqrt(diag(σ² (XᵀX)⁻¹)) with σ² the residual
    variance (n - p degrees of freedom): with white noise on the target, each estimate is
    unbiased and lies within about 3 of these from the truth (99.7%)."""
    variance = float(residuals @ residuals) / (len(x) - x.shape[1])
    return np.sqrt(variance * np.diag(np.linalg.inv(x.T @ x)))


def errors_in_variables_bias(x: np.ndarray, noise_std: float,
                             output_coefficients: tuple[float, float]) -> np.ndarray:
    """The asymptotic bias of least squares on series-parallel rows whose past outputs carry
    white measurement noise v: the equation error v[k] - c1 v[k-1] - c2 v[k-2] correlates with
    the regressors y[k-1] (through v[k-1]) and y[k-2], so the estimate tends to
    θ + R⁻¹ E[φ e] with E[φ e] = (0, 0, 0, -c1 σ², -c2 σ²) and R = E[φ φᵀ]."""
    c1, c2 = output_coefficients
    variance = noise_std**2
    correlation = np.array([0.0, 0.0, 0.0, -c1 * variance, -c2 * variance])
    return np.linalg.solve(x.T @ x / len(x), correlation)


def lms_stability_bound(x: np.ndarray) -> float:
    """2 / tr(R), R = E[u uᵀ]: a step below it keeps LMS stable in the mean square (the
    conservative trace bound; the exact one, 2 / λ_max, is larger)."""
    return 2.0 / float(np.mean(np.sum(x * x, axis=1)))


def adaline(x: np.ndarray, y: np.ndarray, *, step: float, epochs: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Widrow-Hoff LMS on one linear neuron, from zero weights: for each row u (in a fresh
    seeded order each epoch) ``e = y - w·u; w += step e u``. Returns the final weights and
    the training MSE after each epoch. A step at or above the stability bound is refused:
    it would diverge."""
    bound = lms_stability_bound(x)
    if step >= bound:
        raise ParamsError(
            f"sysid.train.adaline.step: {step} is at or above the LMS stability bound "
            f"2 / tr(R) = {bound:.4g} for these regressors; the weights would diverge")
    weights = np.zeros(x.shape[1])
    curve = []
    for _ in range(epochs):
        for row in rng.permutation(len(x)):
            error = y[row] - x[row] @ weights
            weights += step * error * x[row]
        residual = y - x @ weights
        curve.append(float(residual @ residual) / len(y))
    return weights, np.array(curve)
