"""ECG5000: both file layouts parse, bad rows are reported, downloads are checked by content,
splits are clean, stages run."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
import yaml
from dvc_project import write_params
from fakes.folder_server import serve_folder
from fakes.ucr_archive import write_archive

from pipeline.cli import run_stage
from pipeline.core.errors import DataError, DownloadError, ParamsError, PipelineError
from pipeline.core.params import load_experiment_params
from pipeline.core.paths import ExperimentPaths
from pipeline.experiments.ecg5000.beats import (
    CSV_LAYOUT,
    UCR_FINGERPRINTS,
    UCR_LAYOUT,
    read_beats,
    ucr_fingerprint,
    write_ucr_file,
)
from pipeline.experiments.ecg5000.layout import CSV_FILE, UCR_TEST, UCR_TRAIN
from pipeline.experiments.ecg5000.logits import MembersLoss, ensemble_logits, normal_vs_abnormal
from pipeline.experiments.ecg5000.params import Params
from pipeline.experiments.ecg5000.recurrent import build_recurrent
from pipeline.experiments.ecg5000.rocket import FEATURE_SETS
from pipeline.experiments.ecg5000.synthetic import (
    synthetic_beats,
    write_csv_file,
)
from pipeline.experiments.ecg5000.ucr_archive import holds_official_split, read_split
from pipeline.ml.predict import load_trained_model
from pipeline.ml.split_files import load_split

REPO = Path(__file__).resolve().parents[1]
PRESETS = ["default", *yaml.safe_load((REPO / "params.yaml").read_text())["ecg5000"]["presets"]]
# a search that takes seconds: two trials of two epochs, short sequences for the RNN
RIDGE_ALPHAS = [0.1, 10.0, 1000.0]
TINY = {
    "ecg5000.tune.max_trials": 2,
    "ecg5000.tune.epochs": 2,
    "ecg5000.tune.search_space": {
        "cell": {"values": ["gru", "lstm"]}, "conv_blocks": 2, "filters": 16, "units": 16,
        "learning_rate": 0.01, "batch_size": 32,
    },
    "ecg5000.tune.random_kernels": {"kernels": 300, "features": list(FEATURE_SETS),
                                    "ridge_alphas": RIDGE_ALPHAS},
    "ecg5000.train.epochs": 8,
    "ecg5000.train.ensemble_members": 2,
    "ecg5000.explain.beats_for_class_profile": 5,
    "ecg5000.explain.integrated_gradients_steps": 8,
    "ecg5000.explain.shapley_segment": 10,
    "ecg5000.explain.shapley_permutations": 2,
}
# the figures `dvc exp show` compares, per stage (besides synthetic and the stage's time);
# None: what the shared train_classifier declares
HEADLINE = {
    "download": {"files", "bytes"},
    "preprocess": {"train_beats", "validation_beats", "test_beats", "rows_dropped"},
    "evaluate": {"accuracy", "macro_f1", "roc_auc", "baseline_logreg_accuracy",
                 "baseline_1nn_accuracy"},
    "explain": {"completeness_error_median"},
}
HEADLINE_BY_MODEL = {
    "random_kernels": {"tune": {"val_accuracy"},
                       "train": {"loo_squared_error"}},
    "recurrent": {"tune": {"trials", "best_val_loss"}, "train": None},
}


@pytest.fixture(autouse=True)
def no_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test fetches from where it says only."""
    monkeypatch.delenv("PIPELINE_MIRROR", raising=False)


def params_with(tmp_path: Path, **changes) -> Path:
    return write_params(tmp_path, changes)


def details(root: Path, stage: str) -> dict:
    """What a stage wrote besides its headline metrics."""
    return json.loads(ExperimentPaths(root, "ecg5000").details_file(stage).read_text())


def headline(metrics: dict, stage: str) -> set[str]:
    return set(metrics) - {"synthetic", "wall_seconds", f"{stage}_seconds"}


def beat_line(label: str, values: list[str]) -> str:
    """One row of the UCR layout."""
    return "\t".join([label, *values]) + "\n"


# -- parsing -----------------------------------------------------------------------------------


def test_both_layouts_read_back_what_was_written(tmp_path: Path) -> None:
    beats, labels = synthetic_beats(60, np.random.default_rng(0))
    write_ucr_file(tmp_path / "train.tsv", beats, labels)
    write_csv_file(tmp_path / "ecg.csv", beats, (labels == 1).astype(int))
    ucr, ucr_issues = read_beats(tmp_path / "train.tsv", UCR_LAYOUT)
    csv, csv_issues = read_beats(tmp_path / "ecg.csv", CSV_LAYOUT)
    assert ucr_issues == [] and csv_issues == []
    assert np.allclose(ucr.samples, beats, atol=1e-7) and np.array_equal(ucr.labels, labels)
    assert np.array_equal(csv.samples, ucr.samples)
    assert np.array_equal(csv.labels, (labels == 1).astype(int))
    assert ucr.rows.tolist() == list(range(1, 61))
    # the UCR format itself: class first, tab-separated, exact decimals, no header
    first = (tmp_path / "train.tsv").read_text().splitlines()[0].split("\t")
    assert len(first) == 141 and first[0] == str(labels[0])
    # the tutorial's: 140 samples then the label (1 = normal), comma-separated
    last = (tmp_path / "ecg.csv").read_text().splitlines()[0].split(",")
    assert len(last) == 141 and float(last[-1]) == float(labels[0] == 1)


def test_bad_rows_are_reported_with_file_and_row(tmp_path: Path) -> None:
    good = [f"{v:.3f}" for v in np.sin(np.arange(140) / 10)]
    other = [f"{v:.3f}" for v in np.cos(np.arange(140) / 10)]
    lines = [
        beat_line("1", good),                             # 1 fine
        beat_line("2", ["NaN"] * 140),                    # 2 NaN row (pandas reads it as data)
        beat_line("1", good[:100]),                       # 3 short row
        beat_line("3", [*other[:5], "abc", *other[6:]]),  # 4 text cell
        beat_line("4", [*other[:5], "", *other[6:]]),     # 5 empty cell
        beat_line("2", [*other[:5], "inf", *other[6:]]),  # 6 infinite sample
        beat_line("7", other),                            # 7 no such class
        beat_line("1.5", other),                          # 8 not a class number
        beat_line("2", other),                            # 9 fine
    ]
    path = tmp_path / "ECG5000_TRAIN.tsv"
    path.write_text("".join(lines))
    beats, issues = read_beats(path, UCR_LAYOUT)
    assert beats.rows.tolist() == [1, 9] and beats.labels.tolist() == [1, 2]
    problems = {issue.row: issue.problem for issue in issues}
    assert all(issue.file == "ECG5000_TRAIN.tsv" for issue in issues)
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 8]
    assert problems[2] == "column 2: NaN is not a finite number"
    assert problems[3].startswith("101 cells, expected 141")
    assert "column 7: not a number ('abc')" in problems[4]
    assert "column 7: empty" in problems[5]
    assert "inf is not a finite number" in problems[6]
    assert "label 7 is not one of 1, 2, 3, 4, 5" in problems[7]
    assert "label 1.5" in problems[8]


def write_raw_with_problems(raw: Path) -> None:
    """Synthetic UCR files with three bad training rows and a test beat copied from train."""
    rng = np.random.default_rng(1)
    train, train_labels = synthetic_beats(120, rng)
    test, test_labels = synthetic_beats(80, rng)
    test[3] = train[10]  # a leak across the files
    raw.mkdir(parents=True)
    write_ucr_file(raw / UCR_TRAIN, train, train_labels)
    write_ucr_file(raw / UCR_TEST, test, test_labels)
    lines = (raw / UCR_TRAIN).read_text().splitlines(keepends=True)
    lines[4] = "\t".join(["2", *["NaN"] * 140]) + "\n"                        # row 5
    lines[6] = "\t".join(lines[6].split("\t")[:90]) + "\n"                    # row 7
    lines[8] = "\t".join(["1", "abc", *lines[8].split("\t")[2:]])           # row 9
    (raw / UCR_TRAIN).write_text("".join(lines))


def test_bad_rows_are_dropped_and_counted(tmp_path, tracking_uri) -> None:
    write_raw_with_problems(tmp_path / "data" / "raw" / "ecg5000")
    params = params_with(tmp_path, **{"ecg5000.preprocess.task": "multiclass"})
    metrics = run_stage("preprocess", "ecg5000", params_file=params, root=tmp_path)
    found = details(tmp_path, "preprocess")
    assert metrics["rows_dropped"] == 4
    assert found["rows_dropped_unparsable"] == 3 and found["rows_dropped_duplicate"] == 1
    assert metrics["train_beats"] + metrics["validation_beats"] == 117
    assert metrics["test_beats"] == 79
    issues = pd.read_csv(tmp_path / "data" / "processed" / "ecg5000" / "issues.csv")
    assert issues[["file", "row"]].values.tolist() == [
        [UCR_TRAIN, 5], [UCR_TRAIN, 7], [UCR_TRAIN, 9], [UCR_TEST, 4]]
    assert issues["problem"].iloc[3].startswith(f"duplicate of {UCR_TRAIN} row 11")
    processed = tmp_path / "data" / "processed" / "ecg5000"
    for split in ("train", "validation", "test"):
        x, _ = load_split(processed, split)
        assert np.isfinite(x).all()


def test_bad_rows_fail_the_stage_when_asked(tmp_path, tracking_uri) -> None:
    write_raw_with_problems(tmp_path / "data" / "raw" / "ecg5000")
    params = params_with(tmp_path, **{"ecg5000.preprocess.invalid_rows": "fail"})
    with pytest.raises(DataError, match=r"4 unusable rows") as caught:
        run_stage("preprocess", "ecg5000", params_file=params, root=tmp_path)
    message = str(caught.value)
    for where in (f"{UCR_TRAIN} row 5:", f"{UCR_TRAIN} row 7:", f"{UCR_TRAIN} row 9:",
                  f"{UCR_TEST} row 4: duplicate"):
        assert where in message
    assert not (tmp_path / "data" / "processed" / "ecg5000").exists()
    assert not (tmp_path / "metrics" / "ecg5000" / "preprocess.json").exists()


# -- splits and stages --------------------------------------------------------------------------


def test_csv_layout_is_split_by_the_pipeline(tmp_path, tracking_uri) -> None:
    csv = {"data.synthetic": True, "ecg5000.download.layout": "csv"}
    params = params_with(tmp_path, **csv,
                         **{"ecg5000.preprocess.binary_training_labels": "normal_abnormal"})
    run_stage("download", "ecg5000", params_file=params, root=tmp_path)
    assert sorted(p.name for p in (tmp_path / "data" / "raw" / "ecg5000").iterdir()) == [
        "SYNTHETIC", CSV_FILE]
    run_stage("preprocess", "ecg5000", params_file=params, root=tmp_path)
    found = details(tmp_path, "preprocess")
    assert found["layout"] == "csv"
    # 600 beats, 300 normal: 20 % test, then 20 % of the rest for validation, per class
    assert found["test_class_counts"] == [60, 60]
    assert found["validation_class_counts"] == [48, 48]
    assert found["train_class_counts"] == [192, 192]
    processed = tmp_path / "data" / "processed" / "ecg5000"
    assert_disjoint(processed)
    # the csv has no beat classes to learn or score
    for key, value in (("task", "multiclass"), ("binary_training_labels", "beat_classes")):
        wrong = params_with(tmp_path, **csv, **{f"ecg5000.preprocess.{key}": value})
        with pytest.raises(ParamsError, match=f"{key}: {value} needs the UCR files"):
            run_stage("preprocess", "ecg5000", params_file=wrong, root=tmp_path)


def assert_disjoint(processed: Path) -> None:
    """No beat of the test split is in train or validation, nor of validation in train."""
    beats = {split: {x.tobytes() for x in load_split(processed, split)[0]}
             for split in ("train", "validation", "test")}
    assert not beats["test"] & (beats["train"] | beats["validation"])
    assert not beats["validation"] & beats["train"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["random_kernels", "recurrent"])
def test_end_to_end_synthetic_with_the_test_set_out_of_reach(tmp_path, tracking_uri,
                                                            model) -> None:
    """All six stages; tune and train run while the test split is moved away, so they
    cannot have read it; evaluate and explain then find it back."""
    params = params_with(tmp_path, **{"data.synthetic": True, "ecg5000.tune.model": model,
                                      **TINY})
    ran = {"download": run_stage("download", "ecg5000", params_file=params, root=tmp_path)}
    metrics = ran["preprocess"] = run_stage("preprocess", "ecg5000", params_file=params,
                                            root=tmp_path)
    # stratified: each class keeps its share of the training file within one beat
    train_y = np.concatenate([load_split(tmp_path / "data" / "processed" / "ecg5000", s)[1]
                              for s in ("train", "validation")])
    shares = np.bincount(train_y) / len(train_y)
    assert np.all(np.abs(np.array(details(tmp_path, "preprocess")["validation_class_counts"])
                         - shares * metrics["validation_beats"]) <= 1)
    processed = tmp_path / "data" / "processed" / "ecg5000"
    assert_disjoint(processed)
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for name in ("test_x.npy", "test_y.npy"):
        shutil.move(processed / name, hidden / name)
    tune = ran["tune"] = run_stage("tune", "ecg5000", params_file=params, root=tmp_path)
    train = ran["train"] = run_stage("train", "ecg5000", params_file=params, root=tmp_path)
    with pytest.raises(PipelineError, match=r"test_x\.npy"):
        run_stage("evaluate", "ecg5000", params_file=params, root=tmp_path)
    for name in ("test_x.npy", "test_y.npy"):
        shutil.move(hidden / name, processed / name)
    evaluate = ran["evaluate"] = run_stage("evaluate", "ecg5000", params_file=params,
                                           root=tmp_path)
    explain = ran["explain"] = run_stage("explain", "ecg5000", params_file=params,
                                         root=tmp_path)
    # the headline figures are few and numbers; everything else is in details.json
    for stage, figures in {**HEADLINE, **HEADLINE_BY_MODEL[model]}.items():
        assert figures is None or headline(ran[stage], stage) == figures, stage
        assert not any(isinstance(value, str) for value in ran[stage].values()), stage
    assert details(tmp_path, "tune")["model"] == details(tmp_path, "train")["model"] == model
    if model == "recurrent":
        assert "best_val_loss" in train
        assert tune["trials"] == 2 and 1 <= details(tmp_path, "train")["epochs_run"] <= 8
    else:  # the ridge strength chosen on the training split, then again on train + validation
        assert details(tmp_path, "tune")["ridge_alpha"] in RIDGE_ALPHAS
        assert details(tmp_path, "train")["ridge_alpha"] in RIDGE_ALPHAS
        # the feature set with the lowest leave-one-out error is the one trained
        tuned = details(tmp_path, "tune")
        loo = {features: tuned[f"{features}_loo_squared_error"] for features in FEATURE_SETS}
        assert len(set(loo.values())) == 3 and tuned["features"] == min(loo, key=loo.get)
        assert tune["val_accuracy"] == tuned[f"{tuned['features']}_val_accuracy"]
        bank = load_trained_model(tmp_path / "data" / "models" / "ecg5000").get_layer(
            "random_kernels")
        assert bank.features == details(tmp_path, "train")["features"] == tuned["features"]
        assert details(tmp_path, "train")["trained_on_beats"] == (
            metrics["train_beats"] + metrics["validation_beats"])
    # the synthetic beats are learnable: a model that learnt nothing scores about 0.5
    assert details(tmp_path, "evaluate")["samples"] == 300 and evaluate["accuracy"] > 0.8
    assert {"recall_abnormal", "baseline_logreg_roc_auc",
            "baseline_1nn_macro_f1"} <= set(details(tmp_path, "evaluate"))
    # the plot data dvc.yaml declares, whichever the model
    assert (tmp_path / "metrics" / "ecg5000" / "train_history.csv").is_file()
    out = tmp_path / "data"
    for name in ("confusion_matrix.png", "roc_pr.png", "roc.csv", "pr.csv", "baselines.csv",
                 "misclassified.png"):
        assert (out / "evaluate" / "ecg5000" / name).is_file()
    for name in ("class_means.png", "attributions_typical_normal.png",
                 "attributions_misclassified_abnormal.png", "attributions.npz"):
        assert (out / "explain" / "ecg5000" / name).is_file()
    explained = details(tmp_path, "explain")
    assert explained["typical_normal_beats"] == explained["typical_abnormal_beats"] == 4
    # the attributions add up to the logit difference from the baseline: Shapley values
    # exactly (ROCKET), integrated gradients to ~1% with 8 steps (recurrent)
    if model == "random_kernels":
        assert explained["attribution"].startswith("Shapley values")
        assert explain["completeness_error_median"] < 1e-4
    else:
        assert explained["attribution"].startswith("Integrated gradients")
        assert explain["completeness_error_median"] < 0.1


def test_stages_refuse_data_processed_for_other_classes(tmp_path, tracking_uri) -> None:
    params = params_with(tmp_path, **{"data.synthetic": True})
    run_stage("download", "ecg5000", params_file=params, root=tmp_path)
    run_stage("preprocess", "ecg5000", params_file=params, root=tmp_path)
    other = params_with(tmp_path, **{"data.synthetic": True,
                                     "ecg5000.preprocess.task": "multiclass"})
    with pytest.raises(PipelineError, match="run the preprocess stage again"):
        run_stage("tune", "ecg5000", params_file=other, root=tmp_path)


# -- download and the model ----------------------------------------------------------------------


def test_a_beat_class_model_scores_normal_against_the_rest() -> None:
    hp = kt.HyperParameters()
    space = {"cell": "gru", "units": 4, "learning_rate": 0.001}
    model = build_recurrent(hp, space, 5, None)
    beats = np.random.default_rng(3).normal(size=(6, 140, 1)).astype("float32")
    beat_classes = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(beats, verbose=0)))
    binary = normal_vs_abnormal(model)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(binary.predict(beats,
                                                                                 verbose=0)))
    assert np.allclose(probabilities[:, 0], beat_classes[:, 0], atol=1e-6)
    assert np.allclose(probabilities[:, 1], beat_classes[:, 1:].sum(axis=1), atol=1e-6)


def refused_download(tmp_path: Path, served: Path) -> tuple[str, str]:
    """The download stage's error, with ``ucr_url`` pointing at ``served``'s ECG5000.zip on
    127.0.0.1 (nothing from a mirror), and that URL."""
    with serve_folder(served) as url:
        params = params_with(tmp_path, **{"ecg5000.download.ucr_url": f"{url}/ECG5000.zip"})
        with pytest.raises(DownloadError) as caught:
            run_stage("download", "ecg5000", params_file=params, root=tmp_path)
    return str(caught.value), f"{url}/ECG5000.zip"


def test_without_a_mirror_the_archive_zip_is_fetched_and_failures_name_it(
        tmp_path, tracking_uri) -> None:
    served = tmp_path / "served"
    served.mkdir()
    message, url = refused_download(tmp_path, served)
    assert f"{url}: HTTP 404" in message
    assert "set $PIPELINE_MIRROR to a folder (or URL prefix) holding ecg5000/ECG5000.zip" in (
        message)


def test_a_local_csv_file_is_copied_and_checked(tmp_path, tracking_uri) -> None:
    beats, labels = synthetic_beats(100, np.random.default_rng(2))
    local = tmp_path / "my_ecg.csv"
    write_csv_file(local, beats, (labels == 1).astype(int))
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    params = params_with(tmp_path, **{"ecg5000.download.layout": "csv",
                                      "ecg5000.download.csv_source": str(local),
                                      "ecg5000.download.csv_sha256": digest})
    run_stage("download", "ecg5000", params_file=params, root=tmp_path)
    assert (tmp_path / "data" / "raw" / "ecg5000" / CSV_FILE).read_bytes() == local.read_bytes()
    wrong = params_with(tmp_path, **{"ecg5000.download.layout": "csv",
                                     "ecg5000.download.csv_source": str(local),
                                     "ecg5000.download.csv_sha256": "0" * 64})
    with pytest.raises(DownloadError):
        run_stage("download", "ecg5000", params_file=wrong, root=tmp_path)
    # without a checksum, a file is accepted by its structure only (rows of 141 cells, as
    # many as a complete file has)
    unchecked = params_with(tmp_path, **{"ecg5000.download.layout": "csv",
                                         "ecg5000.download.csv_source": str(local),
                                         "ecg5000.download.csv_rows": 100})
    assert run_stage("download", "ecg5000", params_file=unchecked, root=tmp_path)["files"] == 1
    local.write_text("<html>not found</html>\n")
    with pytest.raises(DownloadError, match="content"):
        run_stage("download", "ecg5000", params_file=unchecked, root=tmp_path)


def synthetic_archive(folder: Path, seed: int = 5) -> Path:
    """An ECG5000.zip in the archive's layout, holding stand-in beats (not the official)."""
    rng = np.random.default_rng(seed)
    for name in (UCR_TRAIN, UCR_TEST):
        write_ucr_file(folder / name, *synthetic_beats(60, rng))
    return write_archive(folder / "ECG5000.zip", folder / UCR_TRAIN, folder / UCR_TEST)


def test_an_archive_zip_with_other_content_is_refused(tmp_path, tracking_uri) -> None:
    """No checksum is published: without the content check any zip would pass."""
    served = tmp_path / "served"
    served.mkdir()
    synthetic_archive(served)
    message, url = refused_download(tmp_path, served)
    assert f"{url}: its content is not the expected one" in message
    assert UCR_FINGERPRINTS[UCR_TRAIN] in message  # the official fingerprint, beside the copy's
    assert not (tmp_path / "data" / "raw" / "ecg5000").exists()


def test_the_archive_reader_checks_what_it_reads(tmp_path) -> None:
    archive = synthetic_archive(tmp_path)
    split = read_split(archive)
    beats, _ = read_beats(tmp_path / UCR_TRAIN, UCR_LAYOUT)
    assert np.array_equal(split[UCR_TRAIN].samples, beats.samples)
    with pytest.raises(DownloadError, match=r"ECG5000_TRAIN\.ts is not the official one: the "
                       r"sha256 of its parsed labels and samples is [0-9a-f]{64}, the official"):
        holds_official_split(archive)  # stand-ins, not the official split
    with zipfile.ZipFile(tmp_path / "partial.zip", "w") as partial:
        partial.writestr("ECG5000_TRAIN.ts", "@data\n")
    with pytest.raises(DownloadError, match=r"no ECG5000_TEST\.ts inside"):
        read_split(tmp_path / "partial.zip")


def test_an_ensemble_trains_each_member_on_its_own_and_predicts_their_mean(tmp_path) -> None:
    space = {"cell": "gru", "units": 4, "conv_blocks": 1, "filters": 4, "learning_rate": 0.01}
    model = build_recurrent(kt.HyperParameters(), space, 5, None, members=3)
    beats = np.random.default_rng(4).normal(size=(20, 140, 1)).astype("float32")
    labels = np.arange(20) % 5
    model.fit(beats, labels, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    members = loaded.predict(beats, verbose=0).reshape(20, 3, 5)
    assert np.allclose(members, model.predict(beats, verbose=0).reshape(20, 3, 5), atol=1e-6)
    assert not np.allclose(members[:, 0], members[:, 1])  # independently initialised
    mean = ensemble_logits(loaded, 5).predict(beats, verbose=0)
    assert np.allclose(mean, members.mean(axis=1), atol=1e-5)
    each = [keras.losses.sparse_categorical_crossentropy(labels, members[:, k], from_logits=True)
            for k in range(3)]
    total = keras.ops.convert_to_numpy(MembersLoss(3)(labels, members.reshape(20, 15)))
    assert np.isclose(total, np.mean(keras.ops.convert_to_numpy(sum(each))), rtol=1e-5)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("corner", [0, -1])
def test_every_corner_of_every_search_space_builds(tmp_path, preset, corner) -> None:
    params = load_experiment_params(params_with(tmp_path, **{"ecg5000.preset": preset}),
                                    "ecg5000", Params)
    space = params.tune.search_space
    hp = kt.HyperParameters()
    build_recurrent(hp, space, 5, params.train.augmentation)
    for item in hp.space:
        if isinstance(item, kt.engine.hyperparameters.Choice):
            hp.values[item.name] = item.values[corner]
        elif isinstance(item, kt.engine.hyperparameters.Int | kt.engine.hyperparameters.Float):
            hp.values[item.name] = item.min_value if corner == 0 else item.max_value
    model = build_recurrent(hp, space, 5, params.train.augmentation)
    assert model.predict(np.zeros((2, 140, 1), "float32"), verbose=0).shape == (2, 5)


# -- real data ------------------------------------------------------------------------------------


def one_sample_changed(source: Path, target: Path) -> None:
    """``source`` with one sample of its first beat set to 0.5."""
    text = source.read_text().split("\t")
    text[5] = "0.5"
    target.write_text("\t".join(text))


@pytest.mark.real_data
def test_mirror_copies_match_the_recorded_content(tmp_path, shared_datasets) -> None:
    for name in (UCR_TRAIN, UCR_TEST):
        mirror_file = shared_datasets / "ecg5000" / name
        assert ucr_fingerprint(mirror_file) == UCR_FINGERPRINTS[name]
        # another number formatting of the same values is the same content...
        beats, issues = read_beats(mirror_file, UCR_LAYOUT)
        reformatted = tmp_path / name
        reformatted.write_text("".join(
            "\t".join([f"{label:.7e}", *(repr(float(v)) for v in beat)]) + "\r\n"
            for label, beat in zip(beats.labels, beats.samples, strict=True)))
        assert issues == [] and ucr_fingerprint(reformatted) == UCR_FINGERPRINTS[name]
        # ...one changed sample is not
        one_sample_changed(mirror_file, reformatted)
        assert ucr_fingerprint(reformatted) != UCR_FINGERPRINTS[name]


@pytest.mark.real_data
def test_real_download_and_preprocess(tmp_path, tracking_uri, shared_datasets,
                                      monkeypatch) -> None:
    monkeypatch.setenv("PIPELINE_MIRROR", str(shared_datasets))
    params = params_with(tmp_path, **{"ecg5000.preprocess.task": "multiclass"})
    run_stage("download", "ecg5000", params_file=params, root=tmp_path)
    metrics = run_stage("preprocess", "ecg5000", params_file=params, root=tmp_path)
    found = details(tmp_path, "preprocess")
    assert metrics["rows_dropped"] == 0
    assert found["test_class_counts"] == [2627, 1590, 86, 175, 22]
    official = np.array([292, 177, 10, 19, 2])
    validation = np.array(found["validation_class_counts"])
    assert metrics["validation_beats"] == 100 and np.all(np.abs(validation - official * 0.2) <= 1)
    assert (np.array(found["train_class_counts"]) + validation).tolist() == official.tolist()
    processed = tmp_path / "data" / "processed" / "ecg5000"
    assert_disjoint(processed)
    x_train, _ = load_split(processed, "train")
    assert x_train.shape == (400, 140, 1) and abs(float(x_train.mean())) < 1e-5
    shutil.rmtree(tmp_path / "data")


@pytest.mark.real_data
def test_a_bad_mirror_tsv_falls_back_to_the_archive_and_both_are_named(
        tmp_path, tracking_uri, shared_datasets, monkeypatch) -> None:
    mirror = tmp_path / "mirror" / "ecg5000"
    mirror.mkdir(parents=True)
    shutil.copy(shared_datasets / "ecg5000" / UCR_TEST, mirror / UCR_TEST)
    lines = (shared_datasets / "ecg5000" / UCR_TRAIN).read_text().splitlines(keepends=True)
    (mirror / UCR_TRAIN).write_text("".join(lines[:-1]))  # one beat short
    monkeypatch.setenv("PIPELINE_MIRROR", str(mirror.parent))
    served = tmp_path / "served"
    served.mkdir()
    with serve_folder(served) as url:  # the archive is not there either
        params = params_with(tmp_path, **{"ecg5000.download.ucr_url": f"{url}/ECG5000.zip"})
        with pytest.raises(DownloadError) as caught:
            run_stage("download", "ecg5000", params_file=params, root=tmp_path)
    message = str(caught.value)
    assert f"{mirror / UCR_TRAIN}: its content is not the expected one" in message
    assert f"{mirror / 'ECG5000.zip'}: not there" in message and "HTTP 404" in message
    assert not (tmp_path / "data" / "raw" / "ecg5000").exists()


@pytest.mark.real_data
def test_the_archive_zip_and_the_mirror_tsvs_give_the_same_bytes(
        tmp_path, tracking_uri, shared_datasets, monkeypatch) -> None:
    """Where verified data came from is not part of the result: the zip over HTTP and the
    mirror's TSVs give byte-identical raw files (so the same dvc.lock). A zip with one
    changed sample is refused."""
    served = tmp_path / "served"
    (served / "changed").mkdir(parents=True)
    official = shared_datasets / "ecg5000"
    write_archive(served / "ECG5000.zip", official / UCR_TRAIN, official / UCR_TEST)
    one_sample_changed(official / UCR_TEST, tmp_path / UCR_TEST)
    write_archive(served / "changed" / "ECG5000.zip", official / UCR_TRAIN, tmp_path / UCR_TEST)
    raw = tmp_path / "data" / "raw" / "ecg5000"
    with serve_folder(served) as url:
        params = params_with(tmp_path, **{"ecg5000.download.ucr_url": f"{url}/ECG5000.zip"})
        run_stage("download", "ecg5000", params_file=params, root=tmp_path)
        from_zip = {path.name: path.read_bytes() for path in raw.iterdir()}
        changed = params_with(tmp_path, **{
            "ecg5000.download.ucr_url": f"{url}/changed/ECG5000.zip"})
        with pytest.raises(DownloadError, match="its content is not the expected one"):
            run_stage("download", "ecg5000", params_file=changed, root=tmp_path)
    monkeypatch.setenv("PIPELINE_MIRROR", str(shared_datasets))
    run_stage("download", "ecg5000", params_file=params_with(tmp_path), root=tmp_path)
    from_mirror = {path.name: path.read_bytes() for path in raw.iterdir()}
    assert sorted(from_zip) == [UCR_TEST, UCR_TRAIN] and from_zip == from_mirror
    assert all(ucr_fingerprint(raw / name) == UCR_FINGERPRINTS[name] for name in from_zip)
