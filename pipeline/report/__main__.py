"""``python -m pipeline.report [EXPERIMENT ...]``: what the report stage of dvc.yaml runs."""

from pipeline.report.report import main

raise SystemExit(main())
