"""Names shared by the stages of sysid: the two systems, the models, the files the stages
pass on (so a stage reads them without importing, and depending on, another stage)."""

from __future__ import annotations

SYSTEMS = ("report", "stable")  # the report's unstable G(z) and the stable system
MODELS = ("narx", "adaline", "least_squares")
LINEAR_FILE = "linear.json"  # train: the ADALINE's and least squares' weights, per system
COEFFICIENTS_FILE = "coefficients.json"  # evaluate: every model's coefficients and the truth
FREE_RUN_FILE = "free_run.csv"  # evaluate: the held-out record and each model's free run
