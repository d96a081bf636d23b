"""A reproducible, DVC-managed deep-learning pipeline re-running a neural-network course's
experiments. Layers, lowest first: ``core`` (running a stage), ``tracking`` (MLflow and the
console), ``download`` and ``ml`` (the shared toolkit), ``experiments/<name>`` (one folder
per experiment), and on top ``report`` and ``cli``."""

from pipeline.tracking.console import import_backend_quietly

import_backend_quietly()  # before any module imports Keras
