"""A reproducible, DVC-managed deep-learning pipeline for four real datasets."""

import os

# Quieter TensorFlow start-up; must be set before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
