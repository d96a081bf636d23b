"""Second-order discrete-time systems, simulated by their difference equation.

``y[k] = b0 x[k] + b1 x[k-1] + b2 x[k-2] + c1 y[k-1] + c2 y[k-2]``: the course report's
G(z) = (0.5 z^-1 + 0.25) / (z^-2 + 0.75 z^-1 + 0.125) is b = (2, 4, 0), c = (-6, -8). The
simulation is the recursion itself, written out, so that the tests can check it against
``scipy.signal.lfilter`` (and the impulse response against the closed form 2 (-4)^n).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pipeline.experiments.sysid.params import SystemParams

REGRESSORS = ("x[k]", "x[k-1]", "x[k-2]", "y[k-1]", "y[k-2]")


@dataclass(frozen=True)
class System:
    input_coefficients: tuple[float, float, float]  # b0, b1, b2
    output_coefficients: tuple[float, float]  # c1, c2

    @classmethod
    def from_params(cls, section: SystemParams) -> System:
        return cls(tuple(section.input_coefficients), tuple(section.output_coefficients))

    @property
    def coefficients(self) -> np.ndarray:
        """The true weights of the regressors ``REGRESSORS``: (b0, b1, b2, c1, c2)."""
        return np.array([*self.input_coefficients, *self.output_coefficients])

    @property
    def transfer_function(self) -> tuple[np.ndarray, np.ndarray]:
        """(numerator, denominator) in powers of z^-1, as ``scipy.signal.lfilter`` takes them."""
        c1, c2 = self.output_coefficients
        return np.array(self.input_coefficients), np.array([1.0, -c1, -c2])

    @property
    def poles(self) -> np.ndarray:
        c1, c2 = self.output_coefficients
        return np.roots([1.0, -c1, -c2])

    @property
    def is_stable(self) -> bool:
        return bool(np.all(np.abs(self.poles) < 1))

    def simulate(self, x: np.ndarray) -> np.ndarray:
        """The noise-free output for input ``x``, at rest before ``x[0]``."""
        b0, b1, b2 = self.input_coefficients
        c1, c2 = self.output_coefficients
        x_padded = np.concatenate([np.zeros(2), np.asarray(x, dtype=float)])
        y_padded = np.zeros_like(x_padded)
        for k in range(2, len(x_padded)):
            y_padded[k] = (b0 * x_padded[k] + b1 * x_padded[k - 1] + b2 * x_padded[k - 2]
                           + c1 * y_padded[k - 1] + c2 * y_padded[k - 2])
        return y_padded[2:]

    def impulse_response(self, samples: int) -> np.ndarray:
        impulse = np.zeros(samples)
        impulse[0] = 1.0
        return self.simulate(impulse)


def signed_log_magnitude(values: np.ndarray) -> np.ndarray:
    """sign(v) log10|v| (0 where v is 0): how the report plotted an exploding response."""
    magnitude = np.abs(values)
    return np.sign(values) * np.log10(np.where(magnitude > 0, magnitude, 1.0))


def regressors(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Series-parallel NARX rows ``[x[k], x[k-1], x[k-2], y[k-1], y[k-2]]`` and targets
    ``y[k]`` from a record, for k >= 2 (the recorded, not the predicted, past outputs)."""
    rows = np.column_stack([x[2:], x[1:-1], x[:-2], y[1:-1], y[:-2]])
    return rows, y[2:]


def free_run(step: Callable[[np.ndarray], object], x: np.ndarray,
             y_start: np.ndarray) -> np.ndarray:
    """Parallel (free-run) simulation: each prediction is fed back as the past output.
    ``step`` maps one regressor row (shape (1, 5)) to the next output; ``y_start`` holds the
    two recorded outputs the simulation starts from."""
    predicted = np.zeros(len(x))
    predicted[:2] = y_start
    for k in range(2, len(x)):
        row = np.array([[x[k], x[k - 1], x[k - 2], predicted[k - 1], predicted[k - 2]]])
        predicted[k] = float(np.asarray(step(row)).reshape(-1)[0])
    return predicted
