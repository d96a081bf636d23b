"""Echo cancellation: the simulator matches scipy's filters and its requested ratios, LMS,
NLMS and RLS cancel and track the echo, unstable settings are refused or reported, the
metrics stay finite, and records round-trip through their files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dvc_project import write_params
from scipy.signal import lfilter

from pipeline.cli import run_stage
from pipeline.core.errors import DataError, ParamsError
from pipeline.core.paths import ExperimentPaths
from pipeline.experiments.echo.adaptive import (
    AdaptationResult,
    lms,
    lms_stability_bound,
    nlms,
    rls,
    sign_lms,
)
from pipeline.experiments.echo.performance import (
    erle_db,
    path_error_db,
    samples_to_converge,
    summarise,
)
from pipeline.experiments.echo.signals import (
    EchoRecord,
    all_pole,
    echo_path,
    far_end_speech_like,
    fir_filter,
    load_record,
    save_record,
    simulate_record,
)

SPEECH_AR = [-1.2, 0.5]  # poles of magnitude 0.71: the input correlation's eigenvalues spread ~110x
TAPS = 64
CHANGE_AT = 8000
WINDOW = 500
STEADY_FRACTION = 0.25


def scene(rng: np.random.Generator, **changes: object) -> EchoRecord:
    settings = {
        "samples": 16000,
        "ar": SPEECH_AR,
        "taps": TAPS,
        "delay": 5,
        "decay": 0.05,
        "gain": 0.5,
        "echo_to_noise_db": 40.0,
        "change_at": CHANGE_AT,
    } | changes
    return simulate_record(**settings, rng=rng)


def figures(record: EchoRecord, result: AdaptationResult) -> dict[str, float | int | None]:
    return summarise(record, result, window=WINDOW, steady_fraction=STEADY_FRACTION)


@pytest.fixture(scope="module")
def record() -> EchoRecord:
    return scene(np.random.default_rng(1))


@pytest.fixture(scope="module")
def cancelled(record: EchoRecord) -> dict[str, dict[str, float | int | None]]:
    """The summaries of each filter on the speech-like record at 40 dB ENR."""
    x, d = record.far_end, record.microphone
    step = lms_stability_bound(x, TAPS) / 4
    results = {
        "lms": lms(x, d, taps=TAPS, step=step, snapshot_every=100),
        "sign_lms": sign_lms(x, d, taps=TAPS, step=0.01, snapshot_every=100),
        "nlms": nlms(x, d, taps=TAPS, step=0.7, regularization=1e-3, snapshot_every=100),
        "rls": rls(x, d, taps=TAPS, forgetting=0.995, delta=1e-2, snapshot_every=100),
    }
    return {name: figures(record, result) for name, result in results.items()}


def test_all_pole_recursion_matches_lfilter() -> None:
    noise = np.random.default_rng(0).standard_normal(500)
    np.testing.assert_allclose(
        all_pole(noise, SPEECH_AR), lfilter([1.0], [1.0, *SPEECH_AR], noise), rtol=1e-12
    )


def test_far_end_is_the_scaled_all_pole_output() -> None:
    signal = far_end_speech_like(2000, SPEECH_AR, np.random.default_rng(3))
    shaped = lfilter([1.0], [1.0, *SPEECH_AR], np.random.default_rng(3).standard_normal(2000))
    np.testing.assert_allclose(signal, shaped / shaped.std(), rtol=1e-10)
    assert signal.std() == pytest.approx(1.0)


@pytest.mark.parametrize("ar", [[-2.0, 1.0], [0.5, -1.5], [1.1]])
def test_unstable_ar_is_refused(ar: list[float]) -> None:
    with pytest.raises(ParamsError, match=r"ar = .*largest pole magnitude"):
        far_end_speech_like(100, ar, np.random.default_rng(0))


def test_fir_filter_matches_lfilter() -> None:
    rng = np.random.default_rng(4)
    h, x = rng.standard_normal(32), rng.standard_normal(1000)
    np.testing.assert_allclose(fir_filter(h, x), lfilter(h, [1.0], x), rtol=1e-10, atol=1e-12)


def test_echo_path_has_its_delay_and_gain() -> None:
    path = echo_path(64, 7, 0.05, 0.3, np.random.default_rng(5))
    assert path.shape == (64,)
    assert not path[:7].any() and path[7] != 0
    assert np.linalg.norm(path) == pytest.approx(0.3)
    with pytest.raises(ParamsError, match="delay = 64"):
        echo_path(64, 64, 0.05, 0.3, np.random.default_rng(5))


def test_simulated_record_has_its_ratio_and_switches_path(record: EchoRecord) -> None:
    measured = 10 * np.log10(np.mean(record.echo**2) / np.mean(record.noise**2))
    assert measured == pytest.approx(40.0, abs=0.1)
    np.testing.assert_array_equal(record.microphone, record.echo + record.noise)
    before, after = (fir_filter(path, record.far_end) for path in record.paths)
    np.testing.assert_allclose(record.echo[:CHANGE_AT], before[:CHANGE_AT])
    np.testing.assert_allclose(record.echo[CHANGE_AT:], after[CHANGE_AT:])
    np.testing.assert_array_equal(record.path_at(CHANGE_AT - 1), record.paths[0])
    np.testing.assert_array_equal(record.path_at(CHANGE_AT), record.paths[1])
    again = scene(np.random.default_rng(1))
    np.testing.assert_array_equal(again.microphone, record.microphone)


def test_lms_learns_the_path_from_white_noise() -> None:
    record = scene(
        np.random.default_rng(6),
        samples=4000,
        ar=[],
        echo_to_noise_db=math.inf,
        change_at=None,
    )
    x = record.far_end
    result = lms(
        x,
        record.microphone,
        taps=TAPS,
        step=lms_stability_bound(x, TAPS) / 4,
        snapshot_every=500,
    )
    assert result.diverged_at is None
    assert result.snapshot_at[-1] == len(x) - 1
    assert path_error_db(result.weights[-1], record.paths[0]) < -30


@pytest.mark.parametrize("name", ["nlms", "rls"])
def test_nlms_and_rls_cancel_and_track_the_echo(
    name: str, cancelled: dict[str, dict[str, float | int | None]]
) -> None:
    summary = cancelled[name]
    for segment in ("before", "after"):
        assert summary[f"{segment}_erle_db"] >= 30
        assert summary[f"{segment}_samples_to_converge"] is not None
        assert summary[f"{segment}_misalignment_db"] < -30


def test_rls_converges_faster_than_nlms(
    cancelled: dict[str, dict[str, float | int | None]],
) -> None:
    for segment in ("before", "after"):
        key = f"{segment}_samples_to_converge"
        assert cancelled["rls"][key] < cancelled["nlms"][key]


def test_sign_output_cannot_cancel_the_echo(
    cancelled: dict[str, dict[str, float | int | None]],
) -> None:
    for segment in ("before", "after"):
        assert cancelled["sign_lms"][f"{segment}_erle_db"] < 10
        assert cancelled["lms"][f"{segment}_erle_db"] > 25
        assert cancelled["nlms"][f"{segment}_erle_db"] > 30


def test_lms_above_the_bound_is_refused_or_reported(record: EchoRecord) -> None:
    x, d = record.far_end, record.microphone
    bound = lms_stability_bound(x, TAPS)
    with pytest.raises(ParamsError, match=rf"step = .*bound .*{bound:.4g}.*NLMS"):
        lms(x, d, taps=TAPS, step=bound, snapshot_every=100)
    result = lms(x, d, taps=TAPS, step=2 * bound, snapshot_every=100, allow_unstable=True)
    assert result.diverged_at is not None and result.diverged_at < CHANGE_AT
    assert len(result.error) == result.diverged_at
    assert np.isfinite(result.error).all() and np.isfinite(result.weights).all()
    summary = figures(record, result)
    assert summary["diverged"] is True and summary["diverged_at"] == result.diverged_at
    assert summary["after_erle_db"] is None
    assert all(v is None or math.isfinite(v) for v in summary.values())


def test_metrics_are_finite(cancelled: dict[str, dict[str, float | int | None]]) -> None:
    for summary in cancelled.values():
        assert all(v is None or math.isfinite(v) for v in summary.values())
    silent = np.zeros(100)
    assert np.isfinite(erle_db(silent, silent, 10)).all()


def test_convergence_needs_the_curve_to_hold() -> None:
    curve = np.array([30.0, 10, 10, 29, 29, 29, 29])
    assert samples_to_converge(curve, 30.0, 0, hold=1) == 0
    assert samples_to_converge(curve, 30.0, 0, hold=3) == 3
    assert samples_to_converge(curve, 30.0, 0, hold=5) is None


@pytest.mark.parametrize(
    ("filter_", "settings", "parameter"),
    [
        (nlms, {"step": 2.0, "regularization": 1e-3}, "step = 2.0"),
        (nlms, {"step": 0.5, "regularization": 0.0}, "regularization = 0.0"),
        (rls, {"forgetting": 1.01, "delta": 1e-2}, "forgetting = 1.01"),
        (rls, {"forgetting": 0.99, "delta": 0.0}, "delta = 0.0"),
        (sign_lms, {"step": -0.1}, "step = -0.1"),
    ],
)
def test_bad_filter_settings_are_refused(
    filter_: object, settings: dict[str, float], parameter: str
) -> None:
    x = np.ones(10)
    with pytest.raises(ParamsError, match=parameter):
        filter_(x, x, taps=4, snapshot_every=1, **settings)


def test_record_round_trips_exactly(tmp_path: Path) -> None:
    record = scene(np.random.default_rng(7), samples=300, taps=16, change_at=100)
    save_record(record, tmp_path, "scene")
    loaded = load_record(tmp_path, "scene")
    for field in ("far_end", "echo", "noise", "microphone", "paths"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(record, field))
    assert loaded.change_at == 100
    without_change = scene(np.random.default_rng(7), samples=300, taps=16, change_at=None)
    save_record(without_change, tmp_path, "still")
    assert load_record(tmp_path, "still").change_at is None


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda frame: frame.assign(noise=frame["noise"].where(frame.index != 3)), "row 3"),
        (lambda frame: frame.drop(columns="echo"), "missing column.*echo"),
        (lambda frame: frame.iloc[:-1], "299 rows"),
    ],
    ids=["nan", "missing-column", "short"],
)
def test_damaged_record_is_reported(tmp_path: Path, damage: object, message: str) -> None:
    record = scene(np.random.default_rng(8), samples=300, taps=16, change_at=100)
    save_record(record, tmp_path, "scene")
    csv = tmp_path / "scene.csv"
    damage(pd.read_csv(csv)).to_csv(csv, index=False)
    with pytest.raises(DataError, match=rf"scene\.csv.*{message}"):
        load_record(tmp_path, "scene")


def test_echo_stages_end_to_end(tmp_path: Path, tracking_uri: str) -> None:
    """Tuned on the tuning record, scored on the test record: NLMS and RLS reach 30 dB at a
    40 dB echo-to-noise ratio on both sides of the path change, RLS first; the report's
    sign-activation ADALINE does not cancel at all; every figure is finite."""
    params = write_params(tmp_path, {"echo.download.samples": 12000,
                                     "echo.download.change_at": 6000})
    metrics = {stage: run_stage(stage, "echo", params_file=params, root=tmp_path)
               for stage in ("download", "tune", "evaluate", "explain")}
    evaluate = metrics["evaluate"]
    assert evaluate["simulated"] is True
    for name in ("nlms", "rls"):
        assert evaluate[f"{name}_before_erle_db"] >= 30
        assert evaluate[f"{name}_after_erle_db"] >= 30
    assert evaluate["rls_before_samples_to_converge"] < evaluate["nlms_before_samples_to_converge"]
    assert evaluate["sign_lms_before_erle_db"] < 5
    assert all(math.isfinite(value) for value in evaluate.values()
               if isinstance(value, float))
    explained = ExperimentPaths(tmp_path, "echo").explain
    assert {path.name for path in explained.glob("*.png")} == {
        "erle_over_time.png", "identified_echo_paths.png"}
