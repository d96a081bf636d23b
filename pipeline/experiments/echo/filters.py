"""The cancellers by name, each set by one tuned value: LMS by its step as a fraction of the
stability bound, NLMS by its step, RLS by its forgetting factor; and the report's
sign-activation ADALINE at its fixed step."""

from __future__ import annotations

import numpy as np

from pipeline.experiments.echo import adaptive
from pipeline.experiments.echo.adaptive import AdaptationResult
from pipeline.experiments.echo.params import EvaluateParams


def run_filter(name: str, value: float | None, far_end: np.ndarray, microphone: np.ndarray,
               params: EvaluateParams) -> AdaptationResult:
    """Adapt filter ``name`` (set by ``value``; ``sign_lms`` takes none) over a record."""
    common = {"taps": params.taps, "snapshot_every": params.snapshot_every}
    if name == "lms":
        step = value * adaptive.lms_stability_bound(far_end, params.taps)
        return adaptive.lms(far_end, microphone, step=step, **common)
    if name == "nlms":
        return adaptive.nlms(far_end, microphone, step=value,
                             regularization=params.nlms_regularization, **common)
    if name == "rls":
        return adaptive.rls(far_end, microphone, forgetting=value, delta=params.rls_delta,
                            **common)
    return adaptive.sign_lms(far_end, microphone, step=params.sign_lms_step, **common)
