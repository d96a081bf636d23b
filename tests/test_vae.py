"""The Fashion-MNIST VAE: the IDX reader (real files when present, clear errors on bad ones),
the bounds against a linear-Gaussian model whose likelihood is known in closed form, the
training loss against the evaluation likelihood, and the six stages end to end."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from dvc_project import write_params
from scipy.stats import multivariate_normal

from pipeline.cli import run_stage
from pipeline.core.errors import DataError
from pipeline.core.paths import STAGES, ExperimentPaths
from pipeline.experiments.vae.bounds import (
    bernoulli_log_likelihood,
    estimate_bounds,
    gaussian_log_density,
    kl_to_standard_normal,
)
from pipeline.experiments.vae.data import FILES, read_arrays
from pipeline.experiments.vae.model import summed_binary_crossentropy
from pipeline.ml.idx import read_idx, write_idx

# -- IDX files ----------------------------------------------------------------------------------


def test_idx_round_trip(tmp_path: Path) -> None:
    for array in (np.arange(24, dtype="uint8").reshape(2, 3, 4),
                  np.linspace(-1, 1, 6).astype("float32"), np.array([-5, 7], dtype="int32")):
        write_idx(tmp_path / "a.gz", array)
        read = read_idx(tmp_path / "a.gz")
        assert read.dtype == array.dtype and np.array_equal(read, array)


def test_the_real_files_read_as_fashion_mnist(shared_datasets: Path) -> None:
    arrays = read_arrays(shared_datasets / "fashion-mnist", synthetic=False)
    assert arrays["x_train"].shape == (60000, 28, 28) and arrays["x_test"].shape == (10000, 28, 28)
    assert np.bincount(arrays["y_train"]).tolist() == [6000] * 10
    assert np.bincount(arrays["y_test"]).tolist() == [1000] * 10


@pytest.mark.parametrize(("content", "message"), [
    (b"\0\0\x08\x01\0\0\0\x05abc", r"11 bytes, but a uint8 array of shape \(5,\) takes 13"),
    (b"PK\x03\x04 not idx", "not an IDX file"),
    (b"\0\0\x08\x03\0\0", "header is cut short"),
], ids=["truncated", "wrong magic", "short header"])
def test_a_bad_idx_file_is_named_with_what_is_wrong(tmp_path: Path, content: bytes,
                                                    message: str) -> None:
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(DataError, match=message) as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_a_cut_gzip_stream_is_a_clear_error(tmp_path: Path) -> None:
    write_idx(tmp_path / "x.gz", np.zeros((50, 28, 28), dtype="uint8"))
    data = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"x\.gz: not a readable gzip file"):
        read_idx(tmp_path / "x.gz")


def test_images_and_labels_must_agree(tmp_path: Path) -> None:
    for key, name in FILES.items():
        count = 7 if key == "y_test" else 8
        write_idx(tmp_path / name, np.zeros((count, 28, 28) if key.startswith("x") else count,
                                            dtype="uint8"))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: labels of shape"):
        read_arrays(tmp_path, synthetic=True)


# -- bounds on a model with a known likelihood -------------------------------------------------

# p(z) = N(0, I), p(x|z) = N(W z + b, s^2 I): the marginal is N(b, W W^T + s^2 I) and the
# posterior N((I + W^T W / s^2)^-1 W^T (x - b) / s^2, (I + W^T W / s^2)^-1), diagonal here
# because W's columns are orthogonal: exactly what a VAE's encoder can represent.
RNG = np.random.default_rng(0)
W = np.linalg.qr(RNG.normal(size=(5, 2)))[0] * [1.5, 0.7]
B, S = RNG.normal(size=5), 0.5
X = RNG.normal(size=(40, 5)) * 2


def log_marginal(x: np.ndarray) -> np.ndarray:
    return multivariate_normal(B, W @ W.T + S**2 * np.eye(5)).logpdf(x)


def posterior(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact posterior's mean and log-variance per row of ``x``."""
    variance = 1 / (1 + (W**2).sum(axis=0) / S**2)
    return (x - B) @ W * variance / S**2, np.broadcast_to(np.log(variance), (len(x), 2))


def gaussian_likelihood(x: np.ndarray):
    def log_likelihood(z: np.ndarray) -> np.ndarray:
        return gaussian_log_density(x[:, None], z @ W.T + B, np.full(5, 2 * np.log(S)))
    return log_likelihood


def test_densities_and_kl_match_scipy_and_a_monte_carlo_estimate() -> None:
    mean, log_var = np.array([0.3, -1.0]), np.log(np.array([0.5, 2.0]))
    z = RNG.normal(size=(1000, 2))
    expected = multivariate_normal(mean, np.diag(np.exp(log_var))).logpdf(z)
    np.testing.assert_allclose(gaussian_log_density(z, mean, log_var), expected, rtol=1e-12)
    draws = mean + np.exp(0.5 * log_var) * RNG.normal(size=(200000, 2))
    sampled = np.mean(gaussian_log_density(draws, mean, log_var)
                      - gaussian_log_density(draws, 0.0, np.zeros(2)))
    assert kl_to_standard_normal(mean, log_var) == pytest.approx(sampled, abs=0.02)


def test_with_the_exact_posterior_every_weight_is_the_likelihood() -> None:
    mean, log_var = posterior(X)
    for samples in (1, 16):
        bounds = estimate_bounds(mean, log_var, gaussian_likelihood(X), samples, RNG)
        np.testing.assert_allclose(-bounds["negative_iw_bound"], log_marginal(X), atol=1e-9)


def test_the_importance_weighted_bound_closes_the_gap_a_poor_encoder_leaves() -> None:
    mean, log_var = posterior(X)
    poor_mean, poor_log_var = mean + 0.3, log_var + np.log(3)
    truth = log_marginal(X)
    one = estimate_bounds(poor_mean, poor_log_var, gaussian_likelihood(X), 1, RNG)
    many = estimate_bounds(poor_mean, poor_log_var, gaussian_likelihood(X), 20000, RNG)
    elbo, bound = -many["negative_elbo"], -many["negative_iw_bound"]
    assert np.all(elbo < truth)                              # a real gap ...
    assert np.mean(truth - elbo) > 0.5
    np.testing.assert_allclose(bound, truth, atol=0.05)      # ... that K samples close
    assert np.mean(-one["negative_iw_bound"]) < np.mean(bound)   # K = 1 is only the ELBO
    # E_q[-log p(x|z)] in closed form: the likelihood at the mean, plus the spread W adds
    spread = 0.5 * (np.exp(poor_log_var) @ (W**2).T).sum(axis=1) / S**2
    expected = -gaussian_likelihood(X)(poor_mean[:, None])[:, 0] + spread
    np.testing.assert_allclose(many["reconstruction"], expected, rtol=0.01)


def test_the_training_loss_is_the_evaluated_likelihood() -> None:
    images = RNG.uniform(size=(3, 28, 28, 1)).astype("float32")
    logits = RNG.normal(scale=4, size=(3, 28, 28, 1)).astype("float32")
    keras_nats = keras.ops.convert_to_numpy(summed_binary_crossentropy(images, logits))
    np.testing.assert_allclose(keras_nats, -bernoulli_log_likelihood(images, logits),
                               rtol=1e-4)


# -- end to end ---------------------------------------------------------------------------------


def test_stages_end_to_end(tmp_path: Path, tracking_uri: str) -> None:
    params = write_params(tmp_path, {
        "data.synthetic": True,
        "vae.download.synthetic_train_images": 600,
        "vae.download.synthetic_test_images": 200,
        "vae.tune.max_trials": 2,
        "vae.tune.epochs": 2,
        "vae.tune.train_subset": 300,
        "vae.train.epochs": 4,
        "vae.evaluate.bound_images": 50,
        "vae.evaluate.importance_samples": 64,
        "vae.explain.points": 100,
        "vae.explain.grid_size": 5,
    })
    metrics = {stage: run_stage(stage, "vae", params_file=params, root=tmp_path)
               for stage in STAGES}
    evaluate = metrics["evaluate"]
    assert evaluate["synthetic"] is True
    assert evaluate["negative_elbo"] == pytest.approx(evaluate["reconstruction"]
                                                      + evaluate["kl"])
    assert evaluate["negative_iw_bound"] < evaluate["negative_elbo_same_images"]
    details = json.loads(ExperimentPaths(tmp_path, "vae").details_file("evaluate").read_text())
    assert details["bound_gap_mean"] > 3 * details["bound_gap_standard_error"]
    assert {p.name for p in ExperimentPaths(tmp_path, "vae").explain.glob("*.png")} == {
        "latent_space.png", "manifold.png", "reconstructions.png", "prior_samples.png"}
    # a stage process of its own loads the saved model (its custom layers registered)
    subprocess.run([sys.executable, "-m", "pipeline.experiments.vae.explain", "--params",
                    str(params)], cwd=tmp_path, check=True, capture_output=True)
