"""Numbers to set beside ours in the report: what the original course reports said and what
is published for the same data. Values are as reported (see ``../shared/ORIGINALS.md`` for
the course reports); ``metric`` names the key of ``metrics/<dataset>/evaluate.json`` that
answers it, and ``preset`` the dataset preset that re-runs that setup, if there is one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    source: str
    setup: str
    metric: str
    value: float
    preset: str | None = None
    note: str = ""


REFERENCES: dict[str, tuple[Reference, ...]] = {
    "mnist": (
        Reference(
            "course report A", "RandomSearch, 3 trials; 50k/10k split; best model retrained",
            "accuracy", 0.9900, "report_a_random_search",
            "test accuracy; retrained from the search weights on a changed split",
        ),
        Reference(
            "course report B", "Hyperband, max_epochs 5", "accuracy", 0.9918,
            "report_b_hyperband", "best val_accuracy, but the validation set was the test set",
        ),
        Reference(
            "course report C", "RandomSearch, 10 trials, shared filter count", "accuracy", 0.99,
            "report_c_random_search", "reported as \"99%\"; split not shown",
        ),
        Reference(
            "course report D", "fixed CNN 32-64-64, 15 epochs", "accuracy", 0.9927,
            "report_d_fixed_cnn", "val accuracy, but the validation set was the test set",
        ),
        Reference(
            "LeCun et al. 1998", "LeNet-5, no distortions", "accuracy", 0.9905, None,
            "test error 0.95% (Proc. IEEE 86(11), Gradient-based learning applied to "
            "document recognition)",
        ),
        Reference(
            "Cireşan et al. 2012", "committee of 35 CNNs (MCDNN), distorted training images",
            "accuracy", 0.9977, None, "test error 0.23% (CVPR 2012)",
        ),
    ),
    "ecg5000": (
        Reference(
            "course report", "LSTM(50) on ecg.csv, normal vs abnormal", "accuracy", 0.9067,
            None,
            "validation accuracy; validation rows taken from the end of a class-sorted file, "
            "NaN rows left in, no test set",
        ),
    ),
    "sysid": (
        Reference(
            "course report", "MLP, 20 sigmoid units, Adam, MSE, on y[k] = 2x[k] + 4x[k-1] - "
            "6y[k-1] - 8y[k-2]", "report_narx_test_mse", 0.0077, "report",
            "final training MSE (ours: held-out test MSE); the regressors' range and the "
            "epochs are not given",
        ),
        Reference(
            "course report", "ADALINE on the same rows", "report_adaline_max_coefficient_error",
            0.0, None, "weights reported as [2, 4, 0, -6, -8], rounding not given",
        ),
    ),
}
