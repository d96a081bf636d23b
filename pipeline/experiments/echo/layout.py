"""Names shared by the stages of echo: the records, the cancellers, the files the stages pass
on (so a stage reads them without importing, and depending on, another stage)."""

from __future__ import annotations

RECORDS = ("tuning", "test")  # download: one record to choose settings on, one for results
TUNED = ("lms", "nlms", "rls")
FILTERS = (*TUNED, "sign_lms")  # the report's sign-activation ADALINE is run at a fixed step
BEST_FILE = "best.json"  # tune: each tuned filter's chosen value
CANDIDATES_FILE = "candidates.csv"  # tune: every candidate's score
CURVES_FILE = "erle.csv"  # evaluate: ERLE over the test record, per canceller
PATHS_FILE = "identified_paths.csv"  # evaluate: true and identified paths per segment
