"""Yale faces: loading with the archive's quirks, leak-free protocol splits, the Hebbian neural
PCA, verification by content, one canonical download whichever way the data came, and the
whole pipeline on synthetic data."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fakes.folder_server import serve_folder
from fakes.yale_database import write_database_folder, write_gif, zip_of

from pipeline.cli import run_stage
from pipeline.core.errors import DataError, DownloadError, ParamsError
from pipeline.core.params import deep_merge, load_experiment_params
from pipeline.experiments.yalefaces import fingerprints
from pipeline.experiments.yalefaces.canonical import FACES_FILE, TABLE_FILE
from pipeline.experiments.yalefaces.database import (
    ARCHIVE,
    CENTERLIGHT_ALIAS,
    DUPLICATE_COPY,
    FOLDER,
    holds_original_faces,
    read_database,
)
from pipeline.experiments.yalefaces.layout import IDENTICAL_IMAGES, IMAGE_NAMES
from pipeline.experiments.yalefaces.neural_pca import (
    fit_hebbian,
    hebbian_update,
    principal_angles,
    unit_variances,
)
from pipeline.experiments.yalefaces.params import HebbianParams, Params
from pipeline.experiments.yalefaces.synthetic import synthetic_faces
from pipeline.ml.significance import mcnemar

STAGES = ("download", "preprocess", "tune", "train", "evaluate", "explain")
CANONICAL = [FACES_FILE, TABLE_FILE]
REPO = Path(__file__).resolve().parents[1]
SECTION = {
    "preset": "default",
    "presets": {},
    "download": {},
    "preprocess": {"folds": 3, "inner_folds": 2, "repeats": 2},
    "tune": {
        "max_trials": 2,
        "epochs": 15,
        "neural_pca": {"components": 12, "iterations": 150},
        "search_space": {"components": {"values": [6, 12]}, "hidden_layers": 0,
                         "units": 8, "dropout": 0.0, "l2": 0.001, "learning_rate": 0.02},
    },
    "train": {"oja": {"rule": "oja", "components": 6, "iterations": 150, "whiten": False}},
    "evaluate": {"baseline_components": [4, 8], "agreement_components": 6},
    "explain": {"eigenfaces": 4, "reconstruction_components": [4, 12], "faces": 3},
}


def write_params(root: Path, *, synthetic: bool = True, **changes: object) -> Path:
    """The repository's params.yaml with the yalefaces section's budgets cut to SECTION's,
    then dotted-key ``changes`` applied."""
    repository = yaml.safe_load((REPO / "params.yaml").read_text())
    section = deep_merge(repository["yalefaces"], SECTION)
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        node = section
        for part in parents:
            node = node.setdefault(part, {})
        node[key] = value
    params = {**repository, "seed": 7, "data": {"synthetic": synthetic}, "yalefaces": section}
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def details(root: Path, folder: str) -> dict:
    """The stage's details.json (everything finer than its headline metrics)."""
    return json.loads((root / "data" / folder / "yalefaces" / "details.json").read_text())


@pytest.fixture(autouse=True)
def no_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the tests that set a mirror use one."""
    monkeypatch.delenv("PIPELINE_MIRROR", raising=False)


@pytest.fixture(scope="module")
def synthetic_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated faces as the original zip's folder holds them (names, duplicate, Readme)."""
    return write_database_folder(tmp_path_factory.mktemp("synthetic") / FOLDER,
                                 synthetic_faces(np.random.default_rng(3)))


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / FOLDER
    shutil.copytree(folder, target)
    return target




def came_from(log_text: str) -> str:
    """Where the download stage's log says the database came from."""
    found = re.findall(r"the database came from the (mirror folder|archive|synthetic)", log_text)
    assert found, "the download stage did not say where the data came from"
    return found[-1]

# -- loading ------------------------------------------------------------------------------------
def test_loading_maps_the_zip_quirks(synthetic_folder: Path) -> None:
    assert (synthetic_folder / CENTERLIGHT_ALIAS).exists()
    assert (synthetic_folder / DUPLICATE_COPY).exists()
    pixels, table = read_database(synthetic_folder)
    assert pixels.shape == (165, 243, 320) and pixels.dtype == np.uint8
    assert table["subject"].value_counts().tolist() == [11] * 15
    first = table.set_index("image").loc["subject01.centerlight"]
    assert first["file"] == CENTERLIGHT_ALIAS
    assert DUPLICATE_COPY not in set(table["file"])  # checked, then left out
    # the identical pairs are found from the pixels, and nothing else is grouped
    by_group = table.groupby("group")["image"].apply(sorted)
    pairs = sorted(tuple(images) for images in by_group if len(images) > 1)
    assert pairs == sorted(tuple(sorted(pair)) for pair in IDENTICAL_IMAGES)


def test_synthetic_faces_are_reproducible_and_distinct() -> None:
    first = synthetic_faces(np.random.default_rng(5))
    again = synthetic_faces(np.random.default_rng(5))
    assert list(first) == IMAGE_NAMES
    assert all(np.array_equal(first[name], again[name]) for name in first)
    assert not np.array_equal(first["subject01.normal"], first["subject02.normal"])


@pytest.mark.parametrize("damage, message", [
    ("duplicate_differs", r"subject01\.glasses\.gif: expected a copy of subject01\.glasses"),
    ("missing", r"1 images missing: \['subject05\.wink'\]"),
    ("unexpected", r"unexpected files \['notes\.txt'\]"),
    ("both_names", r"both subject01\.centerlight and subject01\.gif"),
    ("wrong_size", r"subject03\.happy: 100x80 pixels, expected 320x243"),
    ("not_an_image", r"subject04\.sad: not a readable image"),
])
def test_damaged_databases_are_named_errors(synthetic_folder, tmp_path, damage, message) -> None:
    folder = copy_of(synthetic_folder, tmp_path)
    if damage == "duplicate_differs":
        write_gif(folder / DUPLICATE_COPY, np.zeros((243, 320), np.uint8))
    elif damage == "missing":
        (folder / "subject05.wink").unlink()
    elif damage == "unexpected":
        (folder / "notes.txt").write_text("hello")
    elif damage == "both_names":
        shutil.copyfile(folder / CENTERLIGHT_ALIAS, folder / "subject01.centerlight")
    elif damage == "wrong_size":
        write_gif(folder / "subject03.happy", np.zeros((80, 100), np.uint8))
    else:
        (folder / "subject04.sad").write_bytes(b"GIF89a truncated")
    with pytest.raises(DataError, match=message):
        read_database(folder)


# -- one canonical download, whichever way the data came ------------------------------------------
def downloaded(root: Path) -> dict[str, bytes]:
    raw = root / "data" / "raw" / "yalefaces"
    assert sorted(path.name for path in raw.iterdir() if path.name != "SYNTHETIC") == CANONICAL
    return {name: (raw / name).read_bytes() for name in CANONICAL}


def test_download_is_the_same_from_a_mirror_folder_a_zip_or_synthetic_mode(
        tmp_path, tracking_uri, monkeypatch, caplog) -> None:
    """The canonical files are byte-identical whether the faces came as a mirror folder of
    extracted files (no duplicate, as in ../shared/datasets), as the zip from a mirror or over
    HTTP (with its duplicate and metadata), or were generated; no scratch lands in the
    mirror."""
    generated = tmp_path / "generated"
    generated.mkdir()
    run_stage("download", "yalefaces", params_file=write_params(generated), root=generated)
    expected = downloaded(generated)
    pixels = np.load(generated / "data" / "raw" / "yalefaces" / FACES_FILE)
    faces = dict(zip(IMAGE_NAMES, pixels, strict=True))
    # these stand-ins play the originals: their fingerprints are the ones verified
    monkeypatch.setattr(fingerprints, "PIXEL_SHA256", {
        name: fingerprints.pixel_fingerprint(image) for name, image in faces.items()})
    folder_mirror, zip_mirror, served = (tmp_path / name for name in ("folders", "zips", "web"))
    write_database_folder(folder_mirror / FOLDER, faces)
    (folder_mirror / FOLDER / DUPLICATE_COPY).unlink()
    (zip_mirror / FOLDER).mkdir(parents=True)
    zip_of(folder_mirror / FOLDER, zip_mirror / FOLDER / ARCHIVE)
    served.mkdir()
    shutil.copyfile(zip_mirror / FOLDER / ARCHIVE, served / ARCHIVE)
    untouched = {mirror: (mirror / FOLDER).stat().st_mtime_ns
                 for mirror in (folder_mirror, zip_mirror)}
    origins = {}
    with serve_folder(served) as url:
        for name, mirror, changes in (
            ("mirror folder", folder_mirror, {}),
            ("mirror zip", zip_mirror, {}),
            ("zip over HTTP", None, {"download.url": f"{url}/{ARCHIVE}"}),
        ):
            root = tmp_path / name.replace(" ", "_")
            root.mkdir()
            if mirror is None:
                monkeypatch.delenv("PIPELINE_MIRROR", raising=False)
            else:
                monkeypatch.setenv("PIPELINE_MIRROR", str(mirror))
            caplog.clear()
            with caplog.at_level(logging.INFO):
                metrics = run_stage("download", "yalefaces", root=root,
                                    params_file=write_params(root, synthetic=False, **changes))
            origins[name] = came_from(caplog.text)
            assert downloaded(root) == expected, name
            assert metrics["images"] == 165 and metrics["identical_image_groups"] == 9
    assert origins == {"mirror folder": "mirror folder", "mirror zip": "archive",
                       "zip over HTTP": "archive"}
    assert {mirror: (mirror / FOLDER).stat().st_mtime_ns for mirror in untouched} == untouched


def test_preprocess_refuses_a_canonical_form_that_was_changed(tmp_path, tracking_uri) -> None:
    params = write_params(tmp_path)
    run_stage("download", "yalefaces", params_file=params, root=tmp_path)
    faces = tmp_path / "data" / "raw" / "yalefaces" / FACES_FILE
    pixels = np.load(faces)
    pixels[3, 10, 10] ^= 1
    np.save(faces, pixels)
    with pytest.raises(DataError, match=r"images\.csv does not describe .*faces\.npy"):
        run_stage("preprocess", "yalefaces", params_file=params, root=tmp_path)
    assert not (tmp_path / "data" / "processed" / "yalefaces").exists()


# -- protocols ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def preprocessed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("splits")
    params = write_params(root, **{"preprocess.folds": 10, "preprocess.inner_folds": 5})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        patch.delenv("PIPELINE_MIRROR", raising=False)
        run_stage("download", "yalefaces", params_file=params, root=root)
        run_stage("preprocess", "yalefaces", params_file=params, root=root)
    return root / "data" / "processed" / "yalefaces"


def test_no_identical_image_straddles_any_split(preprocessed: Path) -> None:
    images = pd.read_csv(preprocessed / "images.csv", index_col="index")
    folds = pd.read_csv(preprocessed / "folds.csv")
    sets = pd.read_csv(preprocessed / "selection_sets.csv")
    group = images["group"]
    for repeat in (0, 1):
        assert folds[folds["repeat"] == repeat].groupby("protocol")["outer_fold"].nunique(
            ).to_dict() == {"loo": 156, "kfold": 10, "two_subjects": 21}
    for (repeat, protocol, fold), held in folds.groupby(["repeat", "protocol", "outer_fold"]):
        rows = folds[(folds["repeat"] == repeat) & (folds["protocol"] == protocol)]
        train = rows.loc[rows["outer_fold"] != fold, "image"]
        assert not set(group[held["image"]]) & set(group[train]), (repeat, protocol, fold)
        # every choice for the fold is made on images that exclude the held-out ones
        (name,) = held["selection_set"].unique()
        chosen_on = set(sets.loc[sets["selection_set"] == name, "image"])
        assert chosen_on <= set(train) and not chosen_on & set(held["image"])
    # the repetitions partition the images differently (seed, seed + 1)
    kfolds = folds[folds["protocol"] == "kfold"].pivot(index="image", columns="repeat",
                                                        values="outer_fold")
    assert pd.crosstab(kfolds[0], kfolds[1]).to_numpy().max() < kfolds[0].value_counts().min()
    for name, members in sets.groupby("selection_set"):
        for fold, inner in members.groupby("inner_fold"):
            rest = members.loc[members["inner_fold"] != fold, "image"]
            assert not set(group[inner["image"]]) & set(group[rest]), (name, fold)
    # leave-one-image-out: 165 predictions, identical pairs held out together
    first = folds[folds["repeat"] == 0]
    loo = first[first["protocol"] == "loo"]
    assert len(loo) == 165 and loo.groupby("outer_fold").size().max() == 2
    # k-fold stratified by subject: every fold holds each subject once or twice
    kfold = folds[folds["protocol"] == "kfold"].merge(images, left_on="image", right_index=True)
    counts = kfold.groupby(["repeat", "outer_fold", "subject"]).size().unstack(fill_value=0)
    assert counts.to_numpy().min() >= 1 and counts.to_numpy().max() <= 2
    two = first[first["protocol"] == "two_subjects"]
    assert sorted(images.loc[two["image"], "subject"].unique()) == [1, 2] and len(two) == 22


def test_features_follow_the_crop_and_downsampling(preprocessed: Path) -> None:
    features = np.load(preprocessed / "features.npy")
    assert features.shape == (165, 28 * 28) and features.dtype == np.float32  # 224 / 8
    assert features.min() >= 0.0 and features.max() <= 1.0


# -- neural PCA ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def known_covariance() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """4000 samples of a 12-dimensional Gaussian with known eigenvectors and eigenvalues."""
    rng = np.random.default_rng(0)
    eigenvalues = np.array([9.0, 6.0, 4.0, 2.5, 1.5, 1.0, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05])
    vectors, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    samples = rng.standard_normal((4000, 12)) * np.sqrt(eigenvalues) @ vectors.T + 3.0
    return samples.astype("float32"), eigenvalues, vectors


def test_sanger_finds_the_ordered_components(known_covariance) -> None:
    x, eigenvalues, vectors = known_covariance
    layer, history = fit_hebbian(x, HebbianParams(rule="sanger", components=4, iterations=3000,
                                                  step=1.0, tolerance=1e-6, whiten=False),
                                   seed=1)
    learned = layer.basis()
    cosines = np.abs(np.sum(learned * vectors[:, :4], axis=0))
    assert cosines.min() > 0.99  # each unit is its own eigenvector, in order
    variances = unit_variances(x, x.mean(axis=0), learned)
    assert np.allclose(variances, eigenvalues[:4], rtol=0.08)  # sampling error of 4000 draws
    # and exactly the sample PCA of the same data
    centred = x - x.mean(axis=0)
    sample_vectors = np.linalg.svd(centred, full_matrices=False)[2][:4].T
    assert principal_angles(learned, sample_vectors).max() < 0.5
    assert history["orthonormality_error"].iloc[-1] < 1e-3


def test_oja_finds_the_subspace_and_the_reports_start_cannot(known_covariance) -> None:
    x, _, vectors = known_covariance
    params = HebbianParams(rule="oja", components=3, iterations=3000, step=1.5, tolerance=1e-6,
                           whiten=False)
    layer, _ = fit_hebbian(x, params, seed=2)
    assert principal_angles(layer.basis(), vectors[:, :3]).max() < 2.0
    # the course report started every unit at all ones: under Oja's rule they stay identical
    from keras import ops

    centred = ops.convert_to_tensor(x - x.mean(axis=0))
    weights = ops.convert_to_tensor(np.full((12, 3), 12**-0.5, "float32"))
    for _ in range(200):
        weights, _ = hebbian_update(centred, weights, "oja", 1.0)
    columns = ops.convert_to_numpy(weights)
    assert np.allclose(columns[:, 0:1], columns, atol=1e-5)


def test_too_many_components_are_refused() -> None:
    with pytest.raises(ValueError, match="20 components asked of 10 samples"):
        fit_hebbian(np.zeros((10, 50), "float32"),
                    HebbianParams(rule="sanger", components=20, iterations=10, step=1.0,
                                  tolerance=0.0, whiten=True), seed=0)


# -- params ---------------------------------------------------------------------------------------
def test_adaptive_tuners_are_refused(tmp_path: Path) -> None:
    params = write_params(tmp_path, **{"tune.tuner": "hyperband"})
    with pytest.raises(ParamsError, match=r"yalefaces\.tune\.tuner"):
        load_experiment_params(params, "yalefaces", Params)
    params = write_params(tmp_path, **{"preprocess.crop": {"top": 50, "bottom": 40, "left": 0,
                                                           "right": 10}})
    with pytest.raises(ParamsError, match="top < bottom"):
        load_experiment_params(params, "yalefaces", Params)
    # a face crop's errors are its own, not the fixed box's missing keys
    params = write_params(tmp_path, **{"preprocess.crop": {"face_margin": 2, "size": 224}})
    with pytest.raises(ParamsError, match=r"invalid parameters:\n  yalefaces\.preprocess\.crop"
                       r"\.face_margin: Input should be less than or equal to 1 \(got 2\)$"):
        load_experiment_params(params, "yalefaces", Params)
    params = write_params(tmp_path, **{"preprocess.crop": "face"})
    with pytest.raises(ParamsError, match=r"crop: expected a fixed box .* or null"):
        load_experiment_params(params, "yalefaces", Params)


def test_mcnemar_counts_only_the_discordant_pairs() -> None:
    first = np.array([True] * 90 + [False] * 4 + [True] * 6)
    second = np.array([True] * 90 + [False] * 4 + [False] * 6)
    test = mcnemar(first, second)  # 6 to 0 discordant: p = 2 * 0.5**6
    assert (test.only_first_right, test.only_second_right) == (6, 0)
    assert test.p_value == pytest.approx(2 * 0.5**6)
    assert mcnemar(second, first).p_value == pytest.approx(test.p_value)
    assert mcnemar(first, first).p_value == 1.0
    with pytest.raises(ValueError, match="shape"):
        mcnemar(first, second[:-1])


# -- the whole pipeline ----------------------------------------------------------------------------
@pytest.mark.slow
def test_end_to_end_on_synthetic_faces(tmp_path: Path, tracking_uri: str) -> None:
    params = write_params(tmp_path, **{"preprocess.protocols": ["kfold", "two_subjects"]})
    metrics = {stage: run_stage(stage, "yalefaces", params_file=params, root=tmp_path)
               for stage in STAGES}
    tune, evaluate = details(tmp_path, "tune"), details(tmp_path, "evaluate")
    # two repetitions, each with 3 main and 3 two-subject selection sets; and set "all"
    assert metrics["tune"]["trials"] == 2 and tune["selection_sets"] == 2 * (3 + 3) + 1
    assert metrics["preprocess"]["selection_sets"] == 2 * (3 + 3) + 1
    assert metrics["train"]["fold_networks"] == 2 * (3 + 21)
    for method in ("network", "eigenfaces_1nn", "fisherfaces", "fisherfaces_classic"):
        assert evaluate[f"kfold_{method}_predictions"] == 2 * 165
        assert evaluate[f"two_subjects_{method}_predictions"] == 2 * 22
    assert {"kfold_network_accuracy_repeat0", "kfold_fisherfaces_accuracy_repeat1"} <= set(
        evaluate)
    # the headline: network and Fisherfaces per protocol run; everything else in details
    assert {key for key in metrics["evaluate"] if key.endswith("_accuracy")} == {
        "kfold_network_accuracy", "kfold_fisherfaces_accuracy", "two_subjects_network_accuracy",
        "two_subjects_fisherfaces_accuracy"}
    # the synthetic faces are learnable: far above chance (1/15) after 15 epochs
    assert metrics["evaluate"]["kfold_network_accuracy"] > 0.3
    assert metrics["evaluate"]["kfold_fisherfaces_accuracy"] > 0.5
    predictions = pd.read_csv(tmp_path / "data" / "evaluate" / "yalefaces" / "predictions.csv")
    assert predictions.groupby(["protocol", "method"])["image"].nunique().min() >= 22
    # the paired test: its discordant pairs are the predictions' own, its p-value a headline
    for protocol in ("kfold", "two_subjects"):
        correct = predictions[predictions["protocol"] == protocol].pivot(
            index=["repeat", "image"], columns="method", values="correct")
        key = f"{protocol}_network_vs_fisherfaces_mcnemar"
        assert evaluate[f"{key}_only_network_right"] == int(
            (correct["network"] & ~correct["fisherfaces"]).sum())
        assert evaluate[f"{key}_only_fisherfaces_right"] == int(
            (correct["fisherfaces"] & ~correct["network"]).sum())
        assert 0 < metrics["evaluate"][f"{key}_p"] <= 1
    explain = tmp_path / "data" / "explain" / "yalefaces"
    for figure in ("eigenfaces.png", "reconstructions.png", "explained_variance.png",
                   "saliency.png"):
        assert (explain / figure).stat().st_size > 1000
    assert "reconstruction_mse_12" in details(tmp_path, "explain")
    # the same params give the same metrics
    again = run_stage("evaluate", "yalefaces", params_file=params, root=tmp_path)
    assert again["kfold_network_accuracy"] == metrics["evaluate"]["kfold_network_accuracy"]


# -- real data: download by content ---------------------------------------------------------
@pytest.mark.real_data
def test_real_mirror_folder_is_verified_and_loaded(tmp_path, tracking_uri, shared_datasets,
                                                     monkeypatch, caplog) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("PIPELINE_MIRROR", str(shared_datasets))
    params = write_params(tmp_path, synthetic=False)
    download = run_stage("download", "yalefaces", params_file=params, root=tmp_path)
    assert (download["images"], download["identical_image_groups"]) == (165, 9)
    assert came_from(caplog.text) == "mirror folder"
    preprocess = run_stage("preprocess", "yalefaces", params_file=params, root=tmp_path)
    assert preprocess["faces_not_detected"] == 0  # the default crop finds every real face
    found = details(tmp_path, "processed")
    assert found["loo_outer_folds"] == 156 and found["identical_image_groups"] == 9


@pytest.mark.real_data
def test_real_archive_over_http_is_verified_by_content(tmp_path, tracking_uri, shared_datasets,
                                                        monkeypatch, caplog) -> None:
    caplog.set_level(logging.INFO)
    served = tmp_path / "served"
    served.mkdir()
    real = shared_datasets / FOLDER
    zip_of(real, served / "yalefaces.zip")
    zip_of(real, served / "changed.zip", change=CENTERLIGHT_ALIAS)
    assert holds_original_faces(served / "yalefaces.zip")
    assert not holds_original_faces(served / "changed.zip")
    from_folder = tmp_path / "from_folder"
    from_folder.mkdir()
    monkeypatch.setenv("PIPELINE_MIRROR", str(shared_datasets))
    run_stage("download", "yalefaces", params_file=write_params(from_folder, synthetic=False),
              root=from_folder)
    monkeypatch.delenv("PIPELINE_MIRROR")
    with serve_folder(served) as url:
        params = write_params(tmp_path, synthetic=False,
                              **{"download.url": f"{url}/yalefaces.zip"})
        download = run_stage("download", "yalefaces", params_file=params, root=tmp_path)
        assert came_from(caplog.text) == "archive" and download["images"] == 165
        assert downloaded(tmp_path) == downloaded(from_folder)  # zip and __MACOSX gone
        params = write_params(tmp_path, synthetic=False,
                              **{"download.url": f"{url}/changed.zip"})
        with pytest.raises(DownloadError, match=r"1 images differ .*subject01\.centerlight"):
            run_stage("download", "yalefaces", params_file=params, root=tmp_path)
    assert downloaded(tmp_path) == downloaded(from_folder)  # the good copy stays
