"""What a stage prints: the pipeline's own log lines and progress bars, not the start-up
chatter of TensorFlow, MLflow's database migrations or KerasTuner's tables."""

from __future__ import annotations

import logging
import os
import sys
import warnings

QUIET_LOGGERS = ("mlflow", "alembic", "absl", "urllib3", "filelock")


def import_backend_quietly() -> None:
    """Import TensorFlow (the default Keras backend) with the process's stderr silenced: its
    C++ runtime prints oneDNN and absl notices at import, before any log level applies.
    ``TF_CPP_MIN_LOG_LEVEL`` (default 3 here) silences what it prints later. A failing import
    still raises; its traceback prints once stderr is back."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow" or (
            "tensorflow" in sys.modules):
        return
    try:
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no usable stderr descriptor: nothing to silence
        return
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    except ImportError:
        pass  # tensorflow is not installed: Keras reports it with a clear message
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def configure_console(level: int = logging.INFO) -> None:
    """The pipeline's log format; libraries' routine notices below warnings."""
    logging.basicConfig(level=level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # KerasTuner reloads a trial's weights without its optimizer state, by design
    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
