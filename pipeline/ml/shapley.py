"""Shapley values of time segments: an attribution that is exact for any model, step functions
included, where gradient methods (:mod:`pipeline.ml.attribution`) see only what is
differentiable. Like those, it explains a chosen class's logit. (A module of its own, beside
the gradient methods, so that the stages using only those do not depend on it.)"""

from __future__ import annotations

import keras
import numpy as np


def segment_shapley(
    model: keras.Model,
    inputs: np.ndarray,
    classes: np.ndarray,
    *,
    segment: int,
    permutations: int,
    rng: np.random.Generator,
    baseline: np.ndarray | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Shapley values of each sequence's class logit over its time segments (``segment``
    steps of axis 1 each; an absent segment takes the baseline's values, zeros by default),
    spread evenly over each segment's entries: same shape as ``inputs``.

    Sampled over ``permutations`` random segment orders per sequence, each also taken reversed
    (antithetic). Each order's marginal contributions add up to logit(input) -
    logit(baseline) exactly, so their mean does too, for any model: step functions
    included, which integrated gradients cannot see. All masked inputs of all sequences go
    through the model together, in batches of ``batch_size``."""
    inputs = inputs.astype("float32")
    baseline = np.zeros_like(inputs) if baseline is None else baseline.astype("float32")
    count, steps, channel_shape = inputs.shape[0], inputs.shape[1], inputs.shape[2:]
    of_step = np.arange(steps) // segment
    players = int(of_step[-1]) + 1
    orders = rng.permuted(np.tile(np.arange(players), (count, permutations, 1)), axis=2)
    ranks = np.argsort(np.concatenate([orders, orders[:, :, ::-1]], axis=1), axis=2)
    # the coalitions between none and all: the first k segments of each order, 0 < k < players
    present = ranks[:, :, None, :] < np.arange(1, players)[:, None]
    masks = present[..., of_step].reshape(*present.shape[:3], steps, *[1] * len(channel_shape))
    masked = np.where(masks, inputs[:, None, None], baseline[:, None, None])
    rows = np.concatenate([inputs, baseline, masked.reshape(-1, *inputs.shape[1:])])
    chosen = np.concatenate([classes, classes, np.repeat(classes, present[0, ..., 0].size)])
    logits = model.predict(rows, batch_size=batch_size, verbose=0)
    values = logits[np.arange(len(rows)), chosen].astype("float64")
    full, empty = values[:count, None, None], values[count:2 * count, None, None]
    between = values[2 * count:].reshape(present.shape[:3])
    ends = (*between.shape[:2], 1)
    chain = np.concatenate([np.broadcast_to(empty, ends), between, np.broadcast_to(full, ends)],
                           axis=2)
    shapley = np.take_along_axis(np.diff(chain, axis=2), ranks, axis=2).mean(axis=1)
    entries = np.bincount(of_step)[of_step] * np.prod(channel_shape)
    spread = (shapley[:, of_step] / entries).reshape(count, steps, *[1] * len(channel_shape))
    return np.broadcast_to(spread, inputs.shape).copy()
