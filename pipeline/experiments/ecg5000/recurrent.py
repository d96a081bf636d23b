"""The recurrent networks the KerasTuner search explores, alone or as a deep ensemble trained
in one ``fit``."""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner as kt
from keras import layers

from pipeline.experiments.ecg5000.layout import SAMPLES
from pipeline.experiments.ecg5000.logits import MembersLoss, ensemble_accuracy
from pipeline.experiments.ecg5000.params import AugmentationParams
from pipeline.ml.search_space import hyperparameter

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
    :func:`.logits.ensemble_logits` averages them for prediction.
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
