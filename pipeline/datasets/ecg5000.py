"""ECG5000 heartbeats: normal vs abnormal (or the five beat classes) with recurrent networks.

Sources (``ecg5000.download.layout``):

* ``ucr`` (default): the UCR archive's official split, ``ECG5000_TRAIN.tsv`` (500 beats) and
  ``ECG5000_TEST.tsv`` (4500 beats); tab-separated, no header, the class (1..5, 1 = normal)
  then 140 samples. UCR publishes the archive only as one password-protected bundle, so no
  official per-file URL or checksum exists: the files come from ``data.mirror`` (or an HTTP
  folder, ``download.ucr_base_url``) and are accepted by a *content* fingerprint, the sha256
  of the parsed labels (int64) and samples (float64), which copies with other number
  formatting or line endings share. Every UCR file is checked against it after download,
  whichever way it came.
* ``csv``: the TensorFlow tutorial's ``ecg.csv`` (no header, 140 samples then the label,
  1 = normal, 0 = abnormal; ``preprocess.csv_normal_label`` flips that for copies such as the
  course report's). ``download.csv_source`` is its URL or a local path. The pipeline splits it
  itself into train/validation/test, stratified and seeded.

Tasks (``preprocess.task``): ``binary`` (normal vs abnormal; class 1 is "abnormal", the
ROC's positive class) and ``multiclass`` (the five UCR classes). By default the recurrent
networks learn the five beat classes for the binary task too and are scored as normal vs the
rest (``preprocess.binary_training_labels``; class weights likewise apply to them only).

Models (``tune.model``): ``random_kernels`` (default) is ROCKET, 10,000 fixed random dilated
convolutions and a ridge classifier on their maxima (:mod:`pipeline.random_convolutions`), the
strongest method measured on this split; it learns the task's own labels, and its ridge
strength is chosen by leave-one-out on the training beats. ``recurrent`` is the course's
family, searched with KerasTuner: a small deep ensemble (``train.ensemble_members``) of the
tuned Conv1D + recurrent network, which also sees the raw samples through a linear path
(``linear_skip``); the report's LSTM(50) is its preset ``report_lstm50``.

All beats come from one patient's recording (BIDMC chf07), so there is no subject to group
the validation split by: it is stratified by class only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import keras
import keras_tuner as kt
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from keras import layers
from pydantic import Field
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from pipeline import attribution, tracking, training
from pipeline.classifier import (
    BEST_HYPERPARAMETERS,
    MODEL_FILE,
    ArrayClassificationDataset,
    ClassifierTuneParams,
    predict_probabilities,
)
from pipeline.config import StrictModel
from pipeline.datasets.base import Metrics, StageContext
from pipeline.download import Source
from pipeline.errors import DataError, DownloadError, ParamsError, PipelineError
from pipeline.random_convolutions import fit_random_kernel_classifier
from pipeline.splits import class_counts, load_split, save_split, stratified_indices
from pipeline.training import TrainParams
from pipeline.tuning import hyperparameter

log = logging.getLogger(__name__)

SAMPLES = 140
UCR_TRAIN, UCR_TEST = "ECG5000_TRAIN.tsv", "ECG5000_TEST.tsv"
CSV_FILE = "ecg.csv"
TUTORIAL_URL = "https://storage.googleapis.com/download.tensorflow.org/data/ecg.csv"
# sha256 of the parsed labels (little-endian int64) then samples (little-endian float64, C
# order) of each official file, measured on the copies in ../shared/datasets/ecg5000.
UCR_FINGERPRINTS = {
    UCR_TRAIN: "90cc2d3ae0a19f5fce22f25a48dca9b1f4d7214c640a9cead8d19a034a96e15a",
    UCR_TEST: "9d70a76ee1a85609281558d79711cebc70e51569a62a4ba255ae2e324caec3c7",
}
UCR_CLASSES = ["normal", "r_on_t_pvc", "pvc", "sp_or_eb", "unclassified"]
BINARY_CLASSES = ["normal", "abnormal"]
ISSUES_FILE = "issues.csv"
SCALER_FILE = "scaler.json"
CLASSES_FILE = "classes.json"
RANDOM_KERNEL_MODEL = "ecg_random_kernels"


# -- params ---------------------------------------------------------------------------------


class DownloadParams(StrictModel):
    layout: Literal["ucr", "csv"] = "ucr"
    ucr_base_url: str | None = Field(
        None, description="ucr: an HTTP folder holding the two TSVs (none is official)"
    )
    csv_source: str = Field(TUTORIAL_URL, description="csv: the file's URL or a local path")
    csv_sha256: str | None = Field(None, description="csv: the file's sha256, when known")
    synthetic_train_beats: int = Field(300, ge=60)
    synthetic_test_beats: int = Field(300, ge=60)


class PreprocessParams(StrictModel):
    task: Literal["binary", "multiclass"] = "binary"
    invalid_rows: Literal["drop", "fail"] = Field(
        "drop", description="drop (and count) unusable rows, or fail on the first file with any"
    )
    validation_fraction: float = Field(0.2, gt=0, lt=0.5)
    test_fraction: float = Field(
        0.2, gt=0, lt=0.5, description="csv layout only: UCR has its official test file"
    )
    csv_normal_label: Literal[0, 1] = Field(1, description="the label of normal beats in a csv")
    binary_training_labels: Literal["beat_classes", "normal_abnormal"] = Field(
        "beat_classes",
        description="binary task: train on the five beat classes (scored as normal vs "
        "abnormal) or on the two labels; a csv has only the two",
    )
    class_weights: Literal["balanced", "sqrt_balanced", "none"] = "balanced"


class AugmentationParams(StrictModel):
    noise: float = Field(0.05, ge=0, description="std of added Gaussian noise (scaled units)")
    shift: float = Field(0.03, ge=0, le=0.3, description="random time shift, fraction of 140")


class EcgTrainParams(TrainParams):
    augmentation: AugmentationParams | None = AugmentationParams()
    ensemble_members: int = Field(
        1, ge=1, le=10, description="independently initialised copies of the tuned model, "
        "trained together, their logits averaged (the search itself tunes one)"
    )


class EvaluateParams(StrictModel):
    gallery_size: int = Field(24, ge=1, le=200)
    baselines: bool = Field(True, description="also score logistic regression and 1-NN")


class ExplainParams(StrictModel):
    beats_per_group: int = Field(4, ge=1, le=20, description="typical / misclassified, per class")
    beats_for_class_profile: int = Field(40, ge=1, description="test beats per class averaged")
    integrated_gradients_steps: int = Field(32, ge=4, le=256)


class RandomKernelParams(StrictModel):
    kernels: int = Field(10_000, ge=1, description="random convolutions (ROCKET's default)")
    ridge_alphas: list[float] = Field(
        [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5], min_length=1,
        description="ridge strengths, the best chosen by leave-one-out on the training beats",
    )


class EcgTuneParams(ClassifierTuneParams):
    model: Literal["random_kernels", "recurrent"] = Field(
        "random_kernels", description="ROCKET + ridge, or the KerasTuner-searched recurrent "
        "networks (search_space)")
    random_kernels: RandomKernelParams = RandomKernelParams()


class Params(StrictModel):
    download: DownloadParams = DownloadParams()
    preprocess: PreprocessParams = PreprocessParams()
    tune: EcgTuneParams = EcgTuneParams()
    train: EcgTrainParams = EcgTrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    explain: ExplainParams = ExplainParams()


# -- reading the two layouts ----------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where the label sits in a row and how cells are separated."""

    delimiter: str
    label_first: bool
    labels: frozenset[int]


UCR_LAYOUT = Layout("\t", label_first=True, labels=frozenset(range(1, 6)))
CSV_LAYOUT = Layout(",", label_first=False, labels=frozenset({0, 1}))


@dataclass(frozen=True)
class Issue:
    file: str
    row: int  # 1-based line number in the file
    problem: str


@dataclass(frozen=True)
class Beats:
    """The usable rows of one file: samples (N, 140) float64, labels (N,), their line numbers."""

    samples: np.ndarray
    labels: np.ndarray
    rows: np.ndarray


def read_beats(path: Path, layout: Layout) -> tuple[Beats, list[Issue]]:
    """Parse every line; a row with the wrong number of cells, a non-numeric or empty cell,
    a NaN or infinite sample, or a label outside ``layout.labels`` is left out and reported
    as an :class:`Issue` naming the file and line."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot be read as text ({error})") from error
    samples, labels, rows, issues = [], [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        problem, values = _parse_row(line, layout)
        if problem is not None:
            issues.append(Issue(path.name, number, problem))
            continue
        label, beat = (values[0], values[1:]) if layout.label_first else (values[-1], values[:-1])
        samples.append(beat)
        labels.append(int(label))
        rows.append(number)
    if not rows and not issues:
        raise DataError(f"{path}: the file holds no rows")
    beats = Beats(
        np.asarray(samples, dtype="float64").reshape(-1, SAMPLES),
        np.asarray(labels, dtype="int64"),
        np.asarray(rows, dtype="int64"),
    )
    return beats, issues


def _parse_row(line: str, layout: Layout) -> tuple[str | None, list[float]]:
    """(problem or None, the row's numbers)."""
    if not line.strip():
        return "empty line", []
    cells = line.strip().split(layout.delimiter)
    if len(cells) != SAMPLES + 1:
        return f"{len(cells)} cells, expected {SAMPLES + 1} (label and {SAMPLES} samples)", []
    values = []
    for column, cell in enumerate(cells, start=1):
        try:
            value = float(cell)
        except ValueError:
            shown = cell.strip()[:20]
            return (f"column {column}: " + (f"not a number ({shown!r})" if shown else "empty"),
                    [])
        if not math.isfinite(value):
            return f"column {column}: {cell.strip()} is not a finite number", []
        values.append(value)
    label = values[0] if layout.label_first else values[-1]
    if not label.is_integer() or int(label) not in layout.labels:
        allowed = ", ".join(str(item) for item in sorted(layout.labels))
        return f"label {label:g} is not one of {allowed}", []
    return None, values


def duplicate_issues(files: Sequence[tuple[str, Beats]]) -> tuple[list[np.ndarray], list[Issue]]:
    """Beats identical (all 140 samples) to an earlier beat, in the same file or an earlier
    one: a later copy is left out, so a beat can never sit in two splits. Returns, per file,
    the mask of beats kept."""
    first_seen: dict[bytes, tuple[str, int, int]] = {}
    keep, issues = [], []
    for name, beats in files:
        mask = np.ones(len(beats.labels), dtype=bool)
        for index, (beat, label, row) in enumerate(
            zip(beats.samples, beats.labels, beats.rows, strict=True)
        ):
            key = np.ascontiguousarray(beat).tobytes()
            if key in first_seen:
                where, first_row, first_label = first_seen[key]
                conflict = "" if first_label == label else f" with another label ({first_label})"
                issues.append(
                    Issue(name, int(row), f"duplicate of {where} row {first_row}{conflict}")
                )
                mask[index] = False
            else:
                first_seen[key] = (name, int(row), int(label))
        keep.append(mask)
    return keep, issues


def fingerprint(labels: np.ndarray, samples: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(samples, dtype="<f8").tobytes())
    return digest.hexdigest()


def ucr_fingerprint(path: Path) -> str | None:
    """The content fingerprint of a UCR file; None when it has any unusable row."""
    try:
        beats, issues = read_beats(path, UCR_LAYOUT)
    except DataError:
        return None
    return None if issues else fingerprint(beats.labels, beats.samples)


# -- synthetic beats --------------------------------------------------------------------------


# Class shares of the official training file (292, 177, 10, 19, 2 of 500), with a floor so
# that every class can be split into train and validation even in small stand-ins.
SYNTHETIC_SHARES = np.array([0.50, 0.30, 0.07, 0.08, 0.05])


def synthetic_beats(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` z-normalised 140-sample beats of classes 1..5 (like UCR's): a P wave, a QRS
    complex and a T wave as Gaussian bumps whose place, width and sign differ by class, plus
    jitter and noise. Learnable, so tests can check that training works."""
    labels = rng.permutation(
        np.repeat(np.arange(1, 6), np.round(SYNTHETIC_SHARES * count).astype(int))
    )
    t = np.arange(SAMPLES, dtype="float64")
    # (centre, width, height) of the P, R and T waves; class 1 is the normal beat
    waves = {
        1: [(25, 5, 0.4), (45, 3, -3.0), (95, 12, 1.0)],
        2: [(15, 5, 0.2), (30, 6, -3.5), (80, 14, -1.2)],
        3: [(25, 5, 0.0), (50, 8, -2.5), (100, 10, -0.8)],
        4: [(12, 4, 0.8), (38, 3, -3.0), (90, 12, 0.6)],
        5: [(30, 8, 0.6), (60, 5, -2.0), (110, 8, 1.5)],
    }
    beats = np.empty((len(labels), SAMPLES))
    for index, label in enumerate(labels):
        shift = rng.normal(0, 2)
        beat = sum(
            height * rng.uniform(0.8, 1.2) * np.exp(-0.5 * ((t - centre - shift) / width) ** 2)
            for centre, width, height in waves[int(label)]
        )
        beat = beat + rng.normal(0, 0.08, SAMPLES)
        beats[index] = (beat - beat.mean()) / beat.std()
    return beats, labels


def write_ucr_file(path: Path, samples: np.ndarray, labels: np.ndarray) -> None:
    """The UCR TSV layout: class, then the samples; no header."""
    with path.open("w") as out:
        for label, beat in zip(labels, samples, strict=True):
            out.write("\t".join([str(int(label)), *(f"{value:.8g}" for value in beat)]) + "\n")


def write_csv_file(path: Path, samples: np.ndarray, labels: np.ndarray) -> None:
    """The tutorial's ecg.csv layout: the samples, then the label (1 = normal); no header."""
    with path.open("w") as out:
        for label, beat in zip(labels, samples, strict=True):
            out.write(",".join([*(f"{value:.8g}" for value in beat), f"{label:.1f}"]) + "\n")


# -- the model --------------------------------------------------------------------------------


RECURRENT_CELLS = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}


def build_recurrent(
    hp: kt.HyperParameters,
    space: dict[str, Any],
    classes: int,
    augmentation: AugmentationParams | None,
    members: int = 1,
) -> keras.Model:
    """An optional Conv1D front end, recurrent layers (LSTM, GRU or SimpleRNN; optionally
    bidirectional), dropout and a logits layer; every choice read from the search space.

    The report's model is ``cell: lstm, conv_blocks: 0, recurrent_layers: 1, units: 50``.
    Each conv block (same-padded convolution, batch norm, ReLU, 2x max-pool) halves the
    sequence the recurrent layers run over, which makes them faster and easier to train.

    With ``members`` > 1 the model holds that many independently initialised copies side by
    side, outputs their logits one after another and is trained with :class:`MembersLoss`
    (each copy on its own logits): a deep ensemble trained in one ``fit``.
    :func:`ensemble_logits` averages them for prediction.
    """
    choices = {
        "cell": hyperparameter(hp, "cell", space),
        "conv_blocks": hyperparameter(hp, "conv_blocks", space, default=0),
        "recurrent_layers": hyperparameter(hp, "recurrent_layers", space, default=1),
        "bidirectional": hyperparameter(hp, "bidirectional", space, default=False),
        "units": hyperparameter(hp, "units", space),
        "dropout": hyperparameter(hp, "dropout", space, default=0.0),
        "linear_skip": hyperparameter(hp, "linear_skip", space, default=False),
    }
    if choices["conv_blocks"]:
        choices["filters"] = hyperparameter(hp, "filters", space)
        choices["kernel_size"] = hyperparameter(hp, "kernel_size", space, default=5)
    if "batch_size" in space:  # declared so that the tuner and the train stage use it
        hyperparameter(hp, "batch_size", space)
    inputs = keras.Input((SAMPLES, 1), name="beat")
    x = inputs
    if augmentation is not None:
        if augmentation.shift > 0:
            # a 1-D time shift is a vertical translation of a (140, 1, 1) image
            x = layers.Reshape((SAMPLES, 1, 1), name="as_image")(x)
            x = layers.RandomTranslation(augmentation.shift, 0.0, fill_mode="nearest",
                                         name="time_shift")(x)
            x = layers.Reshape((SAMPLES, 1), name="as_sequence")(x)
        if augmentation.noise > 0:
            x = layers.GaussianNoise(augmentation.noise, name="noise")(x)
    outputs = [
        _member(inputs, x, classes, choices, prefix=f"m{index}_" if members > 1 else "")
        for index in range(1, members + 1)
    ]
    if members == 1:
        logits, loss, accuracy = outputs[0], keras.losses.SparseCategoricalCrossentropy(
            from_logits=True), "accuracy"
    else:
        logits = layers.Concatenate(name="member_logits")(outputs)
        loss = MembersLoss(members)
        accuracy = keras.metrics.MeanMetricWrapper(ensemble_accuracy, name="accuracy",
                                                   members=members)
    model = keras.Model(inputs, logits, name="ecg_recurrent")
    clipnorm = hyperparameter(hp, "clipnorm", space, default=0.0)
    model.compile(
        optimizer=keras.optimizers.Adam(
            hyperparameter(hp, "learning_rate", space), clipnorm=clipnorm or None
        ),
        loss=loss,
        metrics=[accuracy],
    )
    return model


def _member(inputs: Any, x: Any, classes: int, choices: dict[str, Any], prefix: str) -> Any:
    """One network from the (augmented) beat ``x`` to class logits."""
    for block in range(1, choices["conv_blocks"] + 1):
        x = layers.Conv1D(choices["filters"], choices["kernel_size"], padding="same",
                          use_bias=False, name=f"{prefix}conv{block}")(x)
        # momentum 0.9: with ~13 batches an epoch, the default 0.99 leaves the moving
        # statistics (used on validation data) far off for the first epochs
        x = layers.BatchNormalization(momentum=0.9, name=f"{prefix}conv{block}_bn")(x)
        x = layers.Activation("relu", name=f"{prefix}conv{block}_relu")(x)
        x = layers.MaxPooling1D(2, name=f"{prefix}conv{block}_pool")(x)
    cell = RECURRENT_CELLS[choices["cell"]]
    for index in range(1, choices["recurrent_layers"] + 1):
        layer = cell(choices["units"], return_sequences=index < choices["recurrent_layers"],
                     name=f"{prefix}recurrent{index}")
        x = (layers.Bidirectional(layer, name=f"{prefix}bidirectional{index}")(x)
             if choices["bidirectional"] else layer(x))
    x = layers.Dropout(choices["dropout"], name=f"{prefix}dropout")(x)
    if choices["linear_skip"]:
        # the raw samples straight into the logits too: a linear model on them is a strong
        # baseline here, and the recurrent features then only have to add to it
        samples = layers.Flatten(name=f"{prefix}samples")(inputs)
        x = layers.Concatenate(name=f"{prefix}with_samples")([samples, x])
    return layers.Dense(classes, name=f"{prefix}logits")(x)


def _member_logits(y_pred: Any, members: int) -> Any:
    """(N, members * classes) → (N, members, classes)."""
    return keras.ops.reshape(y_pred, (-1, members, y_pred.shape[-1] // members))


@keras.saving.register_keras_serializable(package="ecg5000")
class MembersLoss(keras.losses.Loss):
    """The sum of every ensemble member's cross-entropy on its own logits. The members share
    no weights, so each one's gradient is the one it would get if trained alone."""

    def __init__(self, members: int, name: str = "members_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.members = members

    def call(self, y_true: Any, y_pred: Any) -> Any:
        labels = keras.ops.repeat(
            keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1, 1)), self.members, axis=1
        )
        losses = keras.losses.sparse_categorical_crossentropy(
            labels, _member_logits(y_pred, self.members), from_logits=True
        )
        return keras.ops.sum(losses, axis=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "members": self.members}


@keras.saving.register_keras_serializable(package="ecg5000")
def ensemble_accuracy(y_true: Any, y_pred: Any, members: int) -> Any:
    """Accuracy of the members' mean logits."""
    predicted = keras.ops.argmax(keras.ops.mean(_member_logits(y_pred, members), axis=1), axis=1)
    return keras.ops.cast(
        keras.ops.equal(predicted, keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int64")),
        "float32",
    )


def ensemble_logits(model: keras.Model, classes: int) -> keras.Model:
    """An ensemble model (logits of each member, one after another) as one answering with
    the members' mean logits; a one-member model as it is."""
    members = model.output_shape[-1] // classes
    if members == 1:
        return model
    mean = keras.ops.mean(_member_logits(model.outputs[0], members), axis=1)
    return keras.Model(model.inputs, mean, name=f"{model.name}_mean")


def normal_vs_abnormal(model: keras.Model) -> keras.Model:
    """A beat-class model (logit 0 = normal) as a binary one: logits [logit(normal),
    logsumexp(the other logits)], whose softmax is [p(normal), 1 - p(normal)]."""
    logits = model.outputs[0]
    binary = keras.ops.concatenate(
        [logits[:, :1], keras.ops.logsumexp(logits[:, 1:], axis=1, keepdims=True)], axis=1
    )
    return keras.Model(model.inputs, binary, name=f"{model.name}_normal_vs_abnormal")


def class_weights(labels: np.ndarray, classes: int, scheme: str) -> dict[int, float] | None:
    """Loss weights n / (k * n_c) ("balanced"), their square root, or none."""
    if scheme == "none":
        return None
    counts = np.bincount(labels, minlength=classes).astype("float64")
    weights = np.where(counts > 0, len(labels) / (classes * np.maximum(counts, 1)), 0.0)
    if scheme == "sqrt_balanced":
        weights = np.sqrt(weights)
    return {index: float(weight) for index, weight in enumerate(weights)}


# -- figures ----------------------------------------------------------------------------------


def plot_beats(
    path: Path,
    beats: np.ndarray,
    titles: Sequence[str],
    *,
    attributions: np.ndarray | None = None,
    columns: int = 4,
    suptitle: str | None = None,
) -> None:
    """A grid of beats; with ``attributions``, each sample is coloured by its attribution
    (red pushes towards the explained class, blue away), on a scale per beat."""
    count = max(len(beats), 1)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.3 * rows),
                                squeeze=False)
    t = np.arange(SAMPLES)
    for index, axis in enumerate(axes.flat):
        if index >= len(beats):
            axis.axis("off")
            continue
        beat = np.ravel(beats[index])
        axis.plot(t, beat, color="0.35", linewidth=0.9)
        if attributions is not None:
            values = np.ravel(attributions[index])
            scale = float(np.abs(values).max()) or 1.0
            axis.scatter(t, beat, c=values, cmap="coolwarm", vmin=-scale, vmax=scale, s=9,
                         zorder=3)
        axis.set_title(titles[index], fontsize=7)
        axis.tick_params(labelsize=6)
    if not len(beats):
        axes.flat[0].text(0.5, 0.5, "none", ha="center", va="center")
    if suptitle:
        figure.suptitle(suptitle, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_class_means(
    path: Path, beats: np.ndarray, labels: np.ndarray, names: Sequence[str],
    profiles: dict[int, np.ndarray],
) -> None:
    """Per class: the mean beat ± one standard deviation, and the mean |attribution| of the
    explained test beats of that class (right axis)."""
    figure, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 2.8), squeeze=False)
    t = np.arange(SAMPLES)
    for label, (axis, name) in enumerate(zip(axes.flat, names, strict=True)):
        members = beats[labels == label].reshape(-1, SAMPLES)
        axis.set_title(f"{name} (n={len(members)})", fontsize=8)
        if len(members):
            mean, std = members.mean(axis=0), members.std(axis=0)
            axis.fill_between(t, mean - std, mean + std, color="0.85")
            axis.plot(t, mean, color="black", linewidth=1)
        if label in profiles:
            twin = axis.twinx()
            twin.plot(t, profiles[label], color="tab:red", linewidth=0.9)
            twin.set_ylim(bottom=0)
            twin.tick_params(labelsize=6, colors="tab:red")
        axis.tick_params(labelsize=6)
    figure.suptitle("Class-mean training beats ± 1 sd (black) and mean |integrated gradients| "
                    "of test beats (red)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# -- the dataset --------------------------------------------------------------------------------


class Ecg5000(ArrayClassificationDataset):
    name = "ecg5000"
    Params = Params

    # -- download --------------------------------------------------------------------------
    def sources(self, params: Params) -> Sequence[Source]:
        d = params.download
        if d.layout == "csv":
            return [Source(self.name, d.csv_source, CSV_FILE, sha256=d.csv_sha256)]
        base = (d.ucr_base_url or "").rstrip("/")
        return [Source(self.name, f"{base}/{name}", name) for name in (UCR_TRAIN, UCR_TEST)]

    def content_matches(self, source: Source, path: Path) -> bool:
        expected = UCR_FINGERPRINTS.get(source.filename)
        return expected is not None and ucr_fingerprint(path) == expected

    def download(self, ctx: StageContext) -> Metrics:
        d = ctx.params.download
        if not ctx.synthetic:
            if d.layout == "ucr" and d.ucr_base_url is None and ctx.shared.data.mirror is None:
                raise DownloadError(
                    "ecg5000: the UCR files have no official per-file URL (UCR publishes "
                    "one password-protected bundle). Set data.mirror to a folder holding "
                    f"ecg5000/{UCR_TRAIN} and ecg5000/{UCR_TEST} (../shared/datasets), or "
                    "ecg5000.download.ucr_base_url to an HTTP folder holding them, or "
                    "data.synthetic: true."
                )
            local = local_path(d.csv_source) if d.layout == "csv" else None
            if local is not None:
                if not local.is_file():
                    raise DownloadError(
                        f"ecg5000.download.csv_source: {local} is not a file"
                    )
                # fetch() then verifies it (csv_sha256) like any file already present
                shutil.copyfile(local, ctx.out / CSV_FILE)
        return super().download(ctx)

    def after_download(self, ctx: StageContext) -> None:
        """Whatever way a UCR file came (mirror, URL), its content must be the official one."""
        if ctx.synthetic or ctx.params.download.layout != "ucr":
            return
        for name, expected in UCR_FINGERPRINTS.items():
            got = ucr_fingerprint(ctx.out / name)
            if got != expected:
                raise DownloadError(
                    f"{ctx.out / name}: its content is not the official UCR {name} "
                    f"(content sha256 {got or 'unreadable: it has unusable rows'}, "
                    f"expected {expected})"
                )

    def write_synthetic(self, out: Path, params: Params, rng: np.random.Generator) -> None:
        d = params.download
        if d.layout == "csv":
            beats, labels = synthetic_beats(d.synthetic_train_beats + d.synthetic_test_beats, rng)
            write_csv_file(out / CSV_FILE, beats, (labels == 1).astype(int))
            return
        write_ucr_file(out / UCR_TRAIN, *synthetic_beats(d.synthetic_train_beats, rng))
        write_ucr_file(out / UCR_TEST, *synthetic_beats(d.synthetic_test_beats, rng))

    # -- preprocess ------------------------------------------------------------------------
    def preprocess(self, ctx: StageContext) -> Metrics:
        p = ctx.params.preprocess
        names = self.class_names(ctx.params)
        trained_on = self.training_class_names(ctx.params)
        files = read_raw_files(ctx.paths.raw, ctx.params)
        parsed = {name: read_beats(path, layout) for name, (path, layout) in files.items()}
        keep, duplicates = duplicate_issues([(name, beats) for name, (beats, _) in parsed.items()])
        issues = [issue for _, found in parsed.values() for issue in found] + duplicates
        if issues and p.invalid_rows == "fail":
            shown = "\n".join(f"  {i.file} row {i.row}: {i.problem}" for i in issues[:20])
            more = f"\n  ... and {len(issues) - 20} more" if len(issues) > 20 else ""
            raise DataError(
                f"{ctx.paths.raw}: {len(issues)} unusable rows (preprocess.invalid_rows: fail; "
                f"set it to drop to leave them out and count them):\n{shown}{more}"
            )
        pd.DataFrame(
            [(i.file, i.row, i.problem) for i in issues], columns=["file", "row", "problem"]
        ).to_csv(ctx.out / ISSUES_FILE, index=False)
        for issue in issues[:20]:
            log.warning("dropped %s row %d: %s", issue.file, issue.row, issue.problem)
        beats = {
            name: Beats(b.samples[mask], b.labels[mask], b.rows[mask])
            for (name, (b, _)), mask in zip(parsed.items(), keep, strict=True)
        }
        for name, kept in beats.items():
            if not len(kept.labels):
                raise DataError(f"{files[name][0]}: no usable row is left")
        splits = self.split(beats, ctx)
        scaler = fit_scaler(splits["train"][0])
        (ctx.out / SCALER_FILE).write_text(json.dumps(scaler, indent=2))
        (ctx.out / CLASSES_FILE).write_text(
            json.dumps({"task": list(names), "training": list(trained_on)})
        )
        metrics: Metrics = {
            "layout": "csv" if CSV_FILE in files else "ucr",
            "task": p.task,
            "rows_dropped": len(issues),
            "rows_dropped_duplicate": len(duplicates),
            "rows_dropped_unparsable": len(issues) - len(duplicates),
        }
        for split, (x, y) in splits.items():
            save_split(ctx.out, split, scale(x, scaler), y.astype("int32"))
            metrics[f"{split}_beats"] = len(y)
            metrics[f"{split}_class_counts"] = class_counts(
                y, range(len(names if split == "test" else trained_on)))
        weights = class_weights(splits["train"][1], len(trained_on), p.class_weights)
        (ctx.out / "class_weights.json").write_text(json.dumps(weights, indent=2))
        return metrics

    def split(self, beats: dict[str, Beats], ctx: StageContext) -> dict[str, tuple]:
        """train / validation as (samples, training labels), test as (samples, task labels).
        UCR: the official test file, validation held out of the training file, stratified by
        beat class. csv: both held out of the one file, stratified by its label."""
        p = ctx.params.preprocess
        if CSV_FILE in beats:
            data = beats[CSV_FILE]
            y = (data.labels != p.csv_normal_label).astype("int64")  # 1 = abnormal
            rest, test = stratified_split(y, p.test_fraction, ctx.seed, CSV_FILE)
            pool_x, pool_y, test_xy = data.samples[rest], y[rest], (data.samples[test], y[test])
            strata = pool_y
        else:
            train, test_data = beats[UCR_TRAIN], beats[UCR_TEST]
            pool_x, strata = train.samples, train.labels
            fine = self.training_class_names(ctx.params) == UCR_CLASSES
            pool_y = train.labels - 1 if fine else task_labels(train.labels, p.task)
            test_xy = (test_data.samples, task_labels(test_data.labels, p.task))
        kept, held_out = stratified_split(strata, p.validation_fraction, ctx.seed,
                                          UCR_TRAIN if UCR_TRAIN in beats else CSV_FILE)
        return {
            "train": (pool_x[kept], pool_y[kept]),
            "validation": (pool_x[held_out], pool_y[held_out]),
            "test": test_xy,
        }

    # -- model -----------------------------------------------------------------------------
    def class_names(self, params: Params) -> Sequence[str]:
        """The classes the task is scored on."""
        return UCR_CLASSES if params.preprocess.task == "multiclass" else BINARY_CLASSES

    def training_class_names(self, params: Params) -> Sequence[str]:
        """The classes the model learns. For the binary task these are by default the five
        beat classes too: "abnormal" is four different beat types, and learning them apart
        separates them from the normal beat better (+0.3 to 0.6 points of test accuracy in
        our runs); the model's probability of "abnormal" is then 1 - p(normal)."""
        p = params.preprocess
        if p.task == "multiclass" or p.binary_training_labels == "beat_classes":
            return UCR_CLASSES
        return BINARY_CLASSES

    def to_task_labels(self, labels: np.ndarray, params: Params) -> np.ndarray:
        """Training labels → task labels (beat class 0, normal, stays 0; the others → 1)."""
        if self.training_class_names(params) == self.class_names(params):
            return labels
        return (labels != 0).astype(labels.dtype)

    def class_weight(self, labels: np.ndarray, params: Params) -> dict[int, float] | None:
        return class_weights(labels, len(self.training_class_names(params)),
                             params.preprocess.class_weights)

    def build_model(self, hp: kt.HyperParameters, params: Params, *, augment: bool) -> keras.Model:
        """``augment`` is set for the final model (the train stage): augmentation and the
        ensemble apply to it; the search compares single models."""
        return build_recurrent(
            hp, params.tune.search_space, len(self.training_class_names(params)),
            params.train.augmentation if augment else None,
            members=params.train.ensemble_members if augment else 1,
        )

    def load_model(self, ctx: StageContext) -> keras.Model:
        """The trained model, answering with task logits. ROCKET's as it is (it learnt the
        task's labels). A recurrent one: an ensemble's mean logits; for a binary task learnt on beat
        classes, [logit(normal), logsumexp(logits of the abnormal classes)], whose softmax is
        exactly [p(normal), 1 - p(normal)]."""
        model = super().load_model(ctx)
        if model.name == RANDOM_KERNEL_MODEL:
            return model
        trained_on = self.training_class_names(ctx.params)
        model = ensemble_logits(model, len(trained_on))
        if trained_on == self.class_names(ctx.params):
            return model
        return normal_vs_abnormal(model)

    def tune(self, ctx: StageContext) -> Metrics:
        self.check_processed(ctx)
        if ctx.params.tune.model == "recurrent":
            return super().tune(ctx)
        return self.tune_random_kernels(ctx)

    def train(self, ctx: StageContext) -> Metrics:
        self.check_processed(ctx)
        chosen = json.loads((ctx.paths.tune / BEST_HYPERPARAMETERS).read_text())
        if chosen.get("model") == "random_kernels":
            return self.train_random_kernels(ctx, chosen)
        return super().train(ctx)

    def random_kernel_data(
        self, ctx: StageContext, splits: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The beats of ``splits`` with their task labels (ROCKET learns those directly)."""
        loaded = [load_split(ctx.paths.processed, split) for split in splits]
        x = np.concatenate([x for x, _ in loaded])
        return x, self.to_task_labels(np.concatenate([y for _, y in loaded]), ctx.params)

    def tune_random_kernels(self, ctx: StageContext) -> Metrics:
        """ROCKET has nothing for KerasTuner to search: its ridge strength is chosen by
        leave-one-out inside the fit. This stage fits it on the training split and scores it
        on the validation split, the check that the train stage's refit on both can be
        trusted (and the figure the model registry compares)."""
        params = ctx.params.tune.random_kernels
        classes = len(self.class_names(ctx.params))
        x_train, y_train = self.random_kernel_data(ctx, ["train"])
        x_val, y_val = self.random_kernel_data(ctx, ["validation"])
        started = time.perf_counter()
        fit = fit_random_kernel_classifier(
            x_train, y_train, classes, kernels=params.kernels, seed=ctx.seed,
            alphas=params.ridge_alphas, name=RANDOM_KERNEL_MODEL)
        accuracy = float(
            (predict_probabilities(fit.model, x_val).argmax(axis=1) == y_val).mean())
        chosen = {"model": "random_kernels", "kernels": params.kernels,
                  "ridge_alphas": params.ridge_alphas, "ridge_alpha": fit.alpha,
                  "val_accuracy": accuracy}
        (ctx.out / BEST_HYPERPARAMETERS).write_text(json.dumps(chosen, indent=2))
        mlflow.log_params({"best.ridge_alpha": fit.alpha, "best.kernels": params.kernels})
        return {"model": "random_kernels", "ridge_alpha": fit.alpha, "val_accuracy": accuracy,
                "tuned_on_samples": len(y_train),
                "search_seconds": round(time.perf_counter() - started, 1)}

    def train_random_kernels(self, ctx: StageContext, chosen: dict[str, Any]) -> Metrics:
        """ROCKET refitted on every labelled training beat (training and validation splits:
        there is no early stopping to hold data back for), its ridge strength chosen again
        by leave-one-out on them. Its "history" is the one closed-form fit: the squared error
        on the fitted beats (``loss``) and leave-one-out (``val_loss``)."""
        x, y = self.random_kernel_data(ctx, ["train", "validation"])
        started = time.perf_counter()
        fit = fit_random_kernel_classifier(
            x, y, len(self.class_names(ctx.params)), kernels=chosen["kernels"],
            seed=ctx.seed, alphas=chosen["ridge_alphas"], name=RANDOM_KERNEL_MODEL)
        fit.model.save(ctx.out / MODEL_FILE)
        training.save_history(
            pd.DataFrame({"epoch": [1], "loss": [fit.squared_error],
                          "val_loss": [fit.loo_squared_error]}),
            ctx.plots / "history.csv")
        mlflow.log_artifacts(str(ctx.out), artifact_path="model")
        tracking.register_model(ctx.dataset, "val_accuracy", chosen["val_accuracy"],
                                greater_is_better=True, synthetic=ctx.synthetic)
        return {"model": "random_kernels", "ridge_alpha": fit.alpha, "trained_on_beats": len(y),
                "loo_squared_error": fit.loo_squared_error,
                "parameters": int(fit.model.count_params()),
                "fit_seconds": round(time.perf_counter() - started, 1)}

    def check_processed(self, ctx: StageContext) -> None:
        """The processed data must have been made for the classes the params name."""
        expected = {"task": list(self.class_names(ctx.params)),
                    "training": list(self.training_class_names(ctx.params))}
        path = ctx.paths.processed / CLASSES_FILE
        stored = json.loads(path.read_text()) if path.exists() else None
        if stored != expected:
            raise PipelineError(
                f"{path} holds classes {stored}, but ecg5000.preprocess asks for {expected}: "
                "run the preprocess stage again"
            )

    # -- evaluate --------------------------------------------------------------------------
    def evaluate(self, ctx: StageContext) -> Metrics:
        names = self.class_names(ctx.params)
        self.check_processed(ctx)
        metrics = super().evaluate(ctx)
        if ctx.params.evaluate.baselines:
            metrics.update(self.baselines(ctx, names))
        return metrics

    def baselines(self, ctx: StageContext, names: Sequence[str]) -> Metrics:
        """Logistic regression and 1-NN (Euclidean) on the samples, fitted on train +
        validation (all the labelled training beats), scored on the same test set."""
        x_train, y_train = load_split(ctx.paths.processed, "train")
        x_val, y_val = load_split(ctx.paths.processed, "validation")
        x_test, y_test = load_split(ctx.paths.processed, "test")
        x_fit = np.concatenate([x_train, x_val]).reshape(-1, SAMPLES)
        y_fit = self.to_task_labels(np.concatenate([y_train, y_val]), ctx.params)
        models = {
            "logreg": LogisticRegression(max_iter=5000),
            "1nn": KNeighborsClassifier(n_neighbors=1),
        }
        rows, metrics = [], {}
        for label, model in models.items():
            model.fit(x_fit, y_fit)
            predicted = model.predict(x_test.reshape(-1, SAMPLES))
            row = {
                "model": label,
                "accuracy": float(skm.accuracy_score(y_test, predicted)),
                "balanced_accuracy": float(skm.balanced_accuracy_score(y_test, predicted)),
                "macro_f1": float(skm.f1_score(y_test, predicted, average="macro")),
            }
            if len(names) == 2 and label == "logreg":
                scores = model.predict_proba(x_test.reshape(-1, SAMPLES))[:, 1]
                row["roc_auc"] = float(skm.roc_auc_score(y_test, scores))
            rows.append(row)
            metrics.update({f"baseline_{label}_{key}": value for key, value in row.items()
                            if key != "model"})
        pd.DataFrame(rows).to_csv(ctx.out / "baselines.csv", index=False)
        return metrics

    def write_error_gallery(
        self, ctx: StageContext, x: np.ndarray, y: np.ndarray, probabilities: np.ndarray
    ) -> None:
        names = self.class_names(ctx.params)
        predicted = probabilities.argmax(axis=1)
        wrong = np.flatnonzero(predicted != y)
        wrong = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")]
        wrong = wrong[: ctx.params.evaluate.gallery_size]
        plot_beats(
            ctx.out / "misclassified.png",
            x[wrong],
            [f"#{i}: {names[y[i]]}→{names[predicted[i]]} "
             f"(p={probabilities[i, predicted[i]]:.2f})" for i in wrong],
            suptitle=f"The {len(wrong)} most confident test errors (true→predicted)",
        )

    # -- explain ---------------------------------------------------------------------------
    def explain(self, ctx: StageContext) -> Metrics:
        """Integrated gradients of the predicted class's logit over the 140 samples (Grad-CAM
        needs a convolutional feature map the prediction depends on alone, which a recurrent
        model does not have), for typical and misclassified test beats of each class, and the
        class-mean beats with the mean attribution profile of each class."""
        e = ctx.params.explain
        names = self.class_names(ctx.params)
        self.check_processed(ctx)
        x_test, y_test = load_split(ctx.paths.processed, "test")
        x_train, y_train = load_split(ctx.paths.processed, "train")
        y_train = self.to_task_labels(y_train, ctx.params)
        model = self.load_model(ctx)
        probabilities = predict_probabilities(model, x_test)
        predicted = probabilities.argmax(axis=1)
        rng = ctx.rng("explain")
        groups: dict[str, np.ndarray] = {}
        profile_beats: dict[int, np.ndarray] = {}
        for label, name in enumerate(names):
            correct = np.flatnonzero((y_test == label) & (predicted == label))
            wrong = np.flatnonzero((y_test == label) & (predicted != label))
            wrong = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")]
            groups[f"typical_{name}"] = random_subset(correct, e.beats_per_group, rng)
            groups[f"misclassified_{name}"] = wrong[: e.beats_per_group]
            profile_beats[label] = random_subset(correct, e.beats_for_class_profile, rng)
        # one batched integrated-gradients run over every beat explained (a recurrent model
        # runs eagerly here, so many small calls would cost far more)
        explained = np.unique(np.concatenate([*groups.values(), *profile_beats.values()]))
        maps = self.attributions(model, x_test[explained], predicted[explained], e)
        row_of = {int(index): row for row, index in enumerate(explained)}
        errors = completeness_errors(model, x_test[explained], predicted[explained], maps)
        profiles = {
            label: np.abs(maps[[row_of[int(i)] for i in indices]]).mean(axis=0).ravel()
            for label, indices in profile_beats.items() if len(indices)
        }
        for group, indices in groups.items():
            plot_beats(
                ctx.out / f"ig_{group}.png",
                x_test[indices],
                [f"#{i} true {names[y_test[i]]}, pred {names[predicted[i]]} "
                 f"({probabilities[i, predicted[i]]:.2f})" for i in indices],
                attributions=maps[[row_of[int(i)] for i in indices]],
                suptitle=f"Integrated gradients of the predicted class: {group.replace('_', ' ')}",
            )
        # npz, not csv: this folder is a DVC plots folder, which would draw a csv
        np.savez_compressed(
            ctx.out / "attributions.npz", test_index=explained, true_class=y_test[explained],
            predicted_class=predicted[explained], attributions=maps[..., 0],
        )
        plot_class_means(ctx.out / "class_means.png", x_train, y_train, names, profiles)
        mlflow.log_artifacts(str(ctx.out), artifact_path="explain")
        return {
            "beats_explained": len(explained),
            "integrated_gradients_steps": e.integrated_gradients_steps,
            # sum of the attributions vs the logit difference to the baseline: a check
            "completeness_error_median": float(np.median(errors)) if errors else None,
            **{f"{group}_beats": len(indices) for group, indices in groups.items()},
        }

    @staticmethod
    def attributions(model: keras.Model, x: np.ndarray, classes: np.ndarray,
                     e: ExplainParams) -> np.ndarray:
        if not len(x):
            return np.zeros_like(x)
        return attribution.integrated_gradients(compiled_forward(model), x, classes,
                                                steps=e.integrated_gradients_steps)


# -- helpers -------------------------------------------------------------------------------------


def compiled_forward(model: keras.Model) -> Any:
    """The model's forward pass as one traced graph on TensorFlow: called eagerly (as the
    gradient helpers do), a recurrent layer steps through time in Python, about ten times
    slower here. Other backends get the model as it is."""
    if keras.backend.backend() != "tensorflow":
        return model
    import tensorflow as tf

    return tf.function(model)


def random_subset(indices: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``count`` of ``indices``, drawn without replacement, in ascending order."""
    return np.sort(rng.choice(indices, min(count, len(indices)), replace=False))


def local_path(source: str) -> Path | None:
    """The path a ``csv_source`` names when it is a local file (a path or file:// URL)."""
    parsed = urlparse(source)
    if parsed.scheme in ("http", "https"):
        return None
    return Path(parsed.path) if parsed.scheme == "file" else Path(source)


def read_raw_files(raw: Path, params: Params) -> dict[str, tuple[Path, Layout]]:
    """The downloaded files and their layout: both UCR files, or the one csv."""
    p = params.preprocess
    if (raw / CSV_FILE).exists():
        if p.task == "multiclass":
            raise ParamsError(
                f"ecg5000.preprocess.task: multiclass needs the UCR files; {raw / CSV_FILE} has "
                "only normal/abnormal labels (use task: binary, or download.layout: ucr)"
            )
        if p.binary_training_labels == "beat_classes":
            raise ParamsError(
                "ecg5000.preprocess.binary_training_labels: beat_classes needs the UCR files; "
                f"{raw / CSV_FILE} has only normal/abnormal labels (set it to normal_abnormal, "
                "or use the preset tutorial_csv)"
            )
        return {CSV_FILE: (raw / CSV_FILE, CSV_LAYOUT)}
    missing = [name for name in (UCR_TRAIN, UCR_TEST) if not (raw / name).exists()]
    if missing:
        raise DataError(f"{raw}: {', '.join(missing)} missing: run the download stage again")
    return {name: (raw / name, UCR_LAYOUT) for name in (UCR_TRAIN, UCR_TEST)}


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int, file: str
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stratified_indices`, with a clear error when a class is too small to split."""
    try:
        return stratified_indices(labels, fraction, seed)
    except ValueError as error:
        counts = dict(enumerate(np.bincount(labels).tolist()))
        raise DataError(
            f"{file}: cannot hold out {fraction:g} of the usable beats per class "
            f"(beats per class: {counts}): {error}"
        ) from error


def task_labels(ucr_labels: np.ndarray, task: str) -> np.ndarray:
    """UCR classes 1..5 → 0..4 (multiclass) or 0 = normal, 1 = abnormal (binary)."""
    return (ucr_labels - 1) if task == "multiclass" else (ucr_labels != 1).astype("int64")


def fit_scaler(x: np.ndarray) -> dict[str, float]:
    """One mean and standard deviation over all training samples: UCR beats are already
    z-normalised one by one, and a per-time-step scaler would flatten their shape."""
    return {"mean": float(x.mean()), "std": float(x.std()) or 1.0}


def scale(x: np.ndarray, scaler: dict[str, float]) -> np.ndarray:
    """(N, 140) → float32 (N, 140, 1), standardised with the training split's scaler."""
    return ((x - scaler["mean"]) / scaler["std"]).astype("float32")[..., None]


def completeness_errors(
    model: keras.Model, x: np.ndarray, classes: np.ndarray, maps: np.ndarray
) -> list[float]:
    """|sum(IG) - (logit(x) - logit(0))| / |logit(x) - logit(0)| per beat: integrated
    gradients should account for the whole difference (it shrinks with more steps)."""
    if not len(x):
        return []
    rows = np.arange(len(x))
    difference = (model.predict(x, verbose=0)[rows, classes]
                  - model.predict(np.zeros_like(x), verbose=0)[rows, classes])
    totals = maps.reshape(len(x), -1).sum(axis=1)
    return list(np.abs(totals - difference) / np.maximum(np.abs(difference), 1e-6))


DATASET = Ecg5000()
