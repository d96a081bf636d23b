"""Bounds on a VAE's log-likelihood, per image, in nats (NumPy).

With an encoder q(z|x) = N(mean, exp(log_var)), a standard normal prior p(z) and a decoder
p(x|z), the log-weight of a sample z ~ q(z|x) is log w = log p(x|z) + log p(z) - log q(z|x).
Its mean is the ELBO; log(mean w) over K samples is the importance-weighted bound (Burda et
al., 2016), which is never below the ELBO's expectation and tends to log p(x) as K grows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

LOG_2PI = float(np.log(2 * np.pi))


def gaussian_log_density(z: np.ndarray, mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """log N(z; mean, diag(exp(log_var))), summed over the last axis."""
    return -0.5 * np.sum(LOG_2PI + log_var + (z - mean) ** 2 / np.exp(log_var), axis=-1)


def kl_to_standard_normal(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """KL(N(mean, exp(log_var)) || N(0, I)), in closed form, summed over the last axis."""
    return 0.5 * np.sum(np.exp(log_var) + mean**2 - 1.0 - log_var, axis=-1)


def bernoulli_log_likelihood(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """sum of x log p + (1 - x) log(1 - p), p = sigmoid(logits), over all but the first axis:
    the negative of Keras's binary cross-entropy summed over pixels, stable for any logit."""
    per_value = x * logits - np.logaddexp(0.0, logits)
    return per_value.reshape(len(per_value), -1).sum(axis=1)


def importance_weighted_bound(log_weights: np.ndarray) -> np.ndarray:
    """log (1/K sum_k w_k) for log-weights of shape (images, K)."""
    return logsumexp(log_weights, axis=1) - np.log(log_weights.shape[1])


def estimate_bounds(
    mean: np.ndarray,
    log_var: np.ndarray,
    log_likelihood: Callable[[np.ndarray], np.ndarray],
    samples: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Per image: ``reconstruction`` (-E_q log p(x|z), Monte Carlo), ``kl`` (closed form),
    ``negative_elbo`` (their sum) and ``negative_iw_bound`` (K = ``samples``), all in nats.

    ``mean``/``log_var`` are the encoder's outputs for N images, (N, D);
    ``log_likelihood(z)`` takes z of shape (N, K, D) and returns log p(x_n | z_nk), (N, K).
    """
    z = mean[:, None] + np.exp(0.5 * log_var)[:, None] * rng.standard_normal(
        (len(mean), samples, mean.shape[1]))
    log_px_z = log_likelihood(z)
    log_weights = (log_px_z + gaussian_log_density(z, 0.0, np.zeros_like(z))
                   - gaussian_log_density(z, mean[:, None], log_var[:, None]))
    reconstruction = -log_px_z.mean(axis=1)
    kl = kl_to_standard_normal(mean, log_var)
    return {"reconstruction": reconstruction, "kl": kl, "negative_elbo": reconstruction + kl,
            "negative_iw_bound": -importance_weighted_bound(log_weights)}
