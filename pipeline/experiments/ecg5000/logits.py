"""The logits a trained recurrent model answers with, and the views of them the task is scored
on: an ensemble's members side by side (with the loss and accuracy that train them), their
mean, and normal vs abnormal for a model that learnt the beat classes. (Apart from the model
builder: loading a saved model needs these, not the search space.)"""

from __future__ import annotations

from typing import Any

import keras


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
