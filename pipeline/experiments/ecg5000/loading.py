"""The trained model as evaluate and explain use it: answering with the task's logits."""

from __future__ import annotations

from pathlib import Path

import keras

from pipeline.experiments.ecg5000.labels import class_names, training_class_names
from pipeline.experiments.ecg5000.logits import ensemble_logits, normal_vs_abnormal
from pipeline.experiments.ecg5000.params import PreprocessParams
from pipeline.experiments.ecg5000.rocket import is_random_kernel_model
from pipeline.ml.predict import load_trained_model


def load_task_model(folder: Path, p: PreprocessParams) -> keras.Model:
    """The model the train stage saved in ``folder``, answering with task logits. ROCKET's as
    it is (it learnt the task's labels). A recurrent one: an ensemble's mean logits; for a
    binary task learnt on beat classes, [logit(normal), logsumexp(logits of the abnormal
    classes)], whose softmax is exactly [p(normal), 1 - p(normal)]. (Importing this module
    registers both models' custom layers and losses, which loading needs.)"""
    model = load_trained_model(folder)
    if is_random_kernel_model(model):
        return model
    trained_on = training_class_names(p)
    model = ensemble_logits(model, len(trained_on))
    if trained_on == class_names(p):
        return model
    return normal_vs_abnormal(model)
