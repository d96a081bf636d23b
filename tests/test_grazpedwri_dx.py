"""GRAZPEDWRI-DX: metadata, patient-grouped splits, 16-bit preparation, the figshare download
(whole and partial, against a local imitation of figshare), and the whole pipeline on
stand-in radiographs with a planted fracture-like mark."""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from dvc_project import repository_params, write_params
from fakes.figshare_article import write_article
from fakes.local_figshare import LocalFigshare
from PIL import Image

from pipeline.cli import run_stage
from pipeline.core.errors import DataError, DownloadError, ParamsError
from pipeline.core.outputs import read_timings
from pipeline.core.params import load_experiment_params
from pipeline.core.paths import ExperimentPaths
from pipeline.experiments.grazpedwri_dx.explain import feature_map_size
from pipeline.experiments.grazpedwri_dx.images import read_grayscale16
from pipeline.experiments.grazpedwri_dx.layout import SPLITS
from pipeline.experiments.grazpedwri_dx.metadata import (
    COLUMNS,
    generate_metadata,
    is_real_metadata,
    read_metadata,
    select_images,
    write_metadata,
)
from pipeline.experiments.grazpedwri_dx.model import BACKBONES, build_model, warn_without_weights
from pipeline.experiments.grazpedwri_dx.params import (
    ARCHITECTURES,
    BACKBONE_NAMES,
    EXPERIMENT,
    Params,
    TuneParams,
    archive_names,
)
from pipeline.experiments.grazpedwri_dx.preprocess import prepare_image
from pipeline.experiments.grazpedwri_dx.remote_zip import MEMBER_SLACK_BYTES, TAIL_BYTES
from pipeline.experiments.grazpedwri_dx.standins import write_standins
from pipeline.experiments.grazpedwri_dx.weights import resolve_weights
from pipeline.ml.grouped_splits import grouped_stratified_split
from pipeline.ml.search_space import fixed_hyperparameters, space_values

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
REAL = SHARED / "grazpedwri-dx"
REAL_STEMS = ["0001_1297860395_01_WRI-L1_M014", "0004_0542630449_01_WRI-L1_M003"]
NAME = EXPERIMENT.name
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated(tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test logs to its own MLflow store and fetches from no mirror."""
    monkeypatch.delenv("PIPELINE_MIRROR", raising=False)


def params(root: Path, changes: dict, *, synthetic: bool) -> Path:
    """The repository's params.yaml with ``changes`` (keys under ``grazpedwri_dx.``)."""
    return write_params(root, {"data.synthetic": synthetic,
                               **{f"{NAME}.{key}": value for key, value in changes.items()}})


def run(stage: str, root: Path) -> dict:
    return run_stage(stage, NAME, params_file=root / "params.yaml", root=root)


def details(stage: str, root: Path) -> dict:
    return json.loads(ExperimentPaths(root, NAME).details_file(stage).read_text())


@pytest.fixture
def real_data() -> Path:
    if not REAL.is_dir():
        pytest.skip("../shared/datasets is not present")
    return REAL


# -- metadata -------------------------------------------------------------------------------


@pytest.mark.real_data
def test_the_real_metadata_is_read_completely(real_data: Path) -> None:
    frame = read_metadata(real_data / "dataset.csv")
    assert (len(frame), frame["patient_id"].nunique()) == (20_327, 6_091)
    assert int(frame["label"].sum()) == 13_550  # the other 6,777 are blank: no fracture
    assert frame.columns[0] == "filestem"  # the byte-order mark is not part of the name
    assert set(frame["cast"]) == {0, 1} and set(frame["projection"]) == {1, 2, 3}
    assert is_real_metadata(real_data / "dataset.csv")


@pytest.mark.real_data
def test_the_real_split_keeps_patients_apart_and_labels_balanced(real_data: Path) -> None:
    frame = read_metadata(real_data / "dataset.csv")
    splits = grouped_stratified_split(frame["label"].to_numpy(), frame["patient_id"].to_numpy(),
                                      {"train": 0.7, "validation": 0.15, "test": 0.15}, 42)
    frame["split"] = splits
    assert (frame.groupby("patient_id")["split"].nunique() == 1).all()
    for split, share in (("train", 0.7), ("validation", 0.15), ("test", 0.15)):
        part = frame[frame["split"] == split]
        assert len(part) / len(frame) == pytest.approx(share, abs=0.005)
        assert part["label"].mean() == pytest.approx(13_550 / 20_327, abs=0.005)


def test_bad_metadata_is_reported_by_file_line_and_column(tmp_path: Path) -> None:
    rows = generate_metadata(12, np.random.default_rng(0))
    good = tmp_path / "dataset.csv"
    write_metadata(good, rows)
    assert good.read_bytes().startswith(b"\xef\xbb\xbffilestem,")
    assert set(read_metadata(good)["fracture_visible"]) <= {0, 1}
    assert not is_real_metadata(good)  # a generated file is not the real one
    cases = {
        "flag": ({**rows[2], "fracture_visible": "yes"}, r"line 4: column fracture_visible"),
        "age": ({**rows[0], "age": "ten"}, r"line 2: column age"),
        "projection": ({**rows[1], "projection": "7"}, r"line 3: column projection"),
        "duplicate": ({**rows[0]}, r"line 2, .*: column filestem holds"),
    }
    for name, (row, message) in cases.items():
        changed = [*rows]
        if name == "duplicate":
            changed.append(row)
        else:
            changed[[0, 1, 2][["age", "projection", "flag"].index(name)]] = row
        path = tmp_path / f"{name}.csv"
        write_metadata(path, changed)
        with pytest.raises(DataError, match=message):
            read_metadata(path)
    pd.read_csv(good, encoding="utf-8-sig").drop(columns="patient_id").to_csv(
        tmp_path / "no_patient.csv", index=False)
    with pytest.raises(DataError, match=r"missing columns \['patient_id'\]"):
        read_metadata(tmp_path / "no_patient.csv")


# -- preparation ----------------------------------------------------------------------------


@pytest.mark.real_data
def test_real_radiographs_keep_16_bits_and_their_aspect_ratio(real_data: Path,
                                                              tmp_path: Path) -> None:
    intensity = repository_params(NAME).preprocess.intensity
    for stem in REAL_STEMS:
        original = read_grayscale16(real_data / "images" / f"{stem}.png")
        geometry = prepare_image(real_data / "images" / f"{stem}.png",
                                 tmp_path / f"{stem}.png", 256, intensity)
        prepared = read_grayscale16(tmp_path / f"{stem}.png")
        assert prepared.shape == (256, 256) and (geometry.height, geometry.width) == \
            original.shape
        assert len(np.unique(prepared)) > 1000  # more levels than 8 bits could hold
        ratio = geometry.content_width / geometry.content_height
        assert ratio == pytest.approx(original.shape[1] / original.shape[0], abs=0.01)
        left, right = geometry.left, geometry.left + geometry.content_width
        assert prepared[:, :left].max() == 0 and prepared[:, right:].max() == 0


def test_bad_images_are_listed_and_too_many_fail(tmp_path: Path) -> None:
    small = {"download.synthetic.images": 40, "download.synthetic.longest_side": 96,
             "preprocess.size": 32}
    params(tmp_path, {**small, "preprocess.max_bad_fraction": 0.1}, synthetic=True)
    run("download", tmp_path)
    images = tmp_path / "data" / "raw" / NAME / "images"
    first, second = sorted(images.glob("*.png"))[:2]
    first.write_bytes(first.read_bytes()[:200])  # truncated
    second.unlink()  # missing
    metrics = run("preprocess", tmp_path)
    bad = pd.read_csv(tmp_path / "data" / "processed" / NAME / "bad_images.csv")
    assert sorted(bad["file"]) == sorted([first.name, second.name])
    assert set(bad["problem"]) == {"file not found", bad["problem"][bad["file"] == first.name]
                                   .item()}
    assert metrics["bad_images"] == 2
    kept = sum(metrics[f"{split}_images"] for split in SPLITS)
    assert kept == details("preprocess", tmp_path)["requested_images"] - 2
    manifests = pd.concat(pd.read_csv(tmp_path / "data" / "processed" / NAME / f"{s}.csv")
                          for s in SPLITS)
    assert manifests.groupby("patient_id")["file"].apply(
        lambda files: len({f.split("/")[1] for f in files})).max() == 1
    params(tmp_path, {**small, "preprocess.max_bad_fraction": 0.0}, synthetic=True)
    with pytest.raises(DataError, match=rf"2 of \d+ requested images .*{first.name}"):
        run("preprocess", tmp_path)


@pytest.mark.real_data
def test_standins_take_real_names_and_the_real_radiographs(real_data: Path,
                                                           tmp_path: Path) -> None:
    params(tmp_path, {"download.include": REAL_STEMS, "download.synthetic.images": 30,
                      "download.synthetic.longest_side": 96,
                      "download.synthetic.metadata": str(real_data / "dataset.csv"),
                      "preprocess.size": 64}, synthetic=True)
    run("download", tmp_path)
    raw = tmp_path / "data" / "raw" / NAME
    frame = read_metadata(real_data / "dataset.csv")
    stems = [path.stem for path in (raw / "images").glob("*.png")]
    assert set(REAL_STEMS) <= set(stems) and set(stems) <= set(frame["filestem"])
    for stem in REAL_STEMS:
        assert (raw / "images" / f"{stem}.png").read_bytes() == \
            (real_data / "images" / f"{stem}.png").read_bytes()
    with Image.open(raw / "images" / f"{sorted(set(stems) - set(REAL_STEMS))[0]}.png") as image:
        assert image.mode == "I;16"
    marks = pd.read_csv(raw / "marks.csv")
    positives = set(frame[frame["label"] == 1]["filestem"]) & set(stems)
    assert set(marks["filestem"]) == positives  # every stand-in positive carries a mark
    metrics = run("preprocess", tmp_path)
    assert metrics["patients_in_two_splits"] == 0
    assert details("preprocess", tmp_path)["csv_rows"] == 20_327
    prepared = pd.concat(pd.read_csv(raw.parents[1] / "processed" / NAME / f"{s}.csv")
                         for s in SPLITS)
    assert set(REAL_STEMS) <= set(prepared["filestem"])


# -- download from a local imitation of figshare -----------------------------------------------


def standin_article(folder: Path, stems: list[str], frame: pd.DataFrame,
                    longest_side: int = 96) -> dict[int, Path]:
    """dataset.csv and the image archives (stand-ins for ``stems``) in figshare's layout."""
    write_standins(folder / "images", frame, stems, longest_side, np.random.default_rng(1))
    return write_article(folder, folder / "dataset.csv",
                         sorted((folder / "images").glob("*.png")),
                         repository_params(NAME).download.files)


@pytest.fixture
def metadata(tmp_path: Path) -> Path:
    """The real dataset.csv where available (stand-ins then carry real names), else a
    generated one."""
    path = tmp_path / "article" / "dataset.csv"
    path.parent.mkdir()
    if (REAL / "dataset.csv").is_file():
        shutil.copyfile(REAL / "dataset.csv", path)
    else:
        write_metadata(path, generate_metadata(400, np.random.default_rng(0)))
    return path


def test_a_subset_is_read_from_the_remote_archives(tmp_path: Path, metadata: Path) -> None:
    frame = read_metadata(metadata)
    served = select_images(frame, 120, [], 42, where="test")  # a superset of the subset
    with LocalFigshare(14825193, standin_article(metadata.parent, served, frame)) as server:
        root = tmp_path / "project"
        root.mkdir()
        params(root, {"download.api_url": server.api_url, "download.images": 30},
               synthetic=False)
        metrics = run("download", root)
        cost = read_timings(ExperimentPaths(root, NAME), "download")
        wanted = select_images(frame, 30, [], 42, where="test")
        raw = root / "data" / "raw" / NAME
        assert sorted(p.stem for p in (raw / "images").glob("*.png")) == wanted
        assert metrics["images_requested"] == metrics["images_present"] == len(wanted)
        for stem in wanted:
            assert (raw / "images" / f"{stem}.png").read_bytes() == \
                (metadata.parent / "images" / f"{stem}.png").read_bytes()
        archives = sum(metadata.parent.joinpath(n).stat().st_size
                       for n in archive_names(repository_params(NAME).download.files))
        overhead = cost["range_bytes"] - cost["member_bytes"]
        assert cost["member_bytes"] > 0 and cost["archive_bytes"] == archives
        assert 0 < overhead <= 4 * TAIL_BYTES + len(wanted) * (MEMBER_SLACK_BYTES + 100)
        assert server.bytes_sent == cost["range_bytes"] + metadata.stat().st_size
        sent = server.bytes_sent
        run("download", root)  # again: the cached images, checked against the directories
        cost = read_timings(ExperimentPaths(root, NAME), "download")
        assert cost["already_cached"] == len(wanted) and cost["member_bytes"] == 0
        assert cost["cache_replaced"] == 0 and 0 < cost["range_requests"] <= 4
        assert cost["range_bytes"] <= 4 * TAIL_BYTES  # the archives' tails, nothing more
        assert server.bytes_sent == sent + metadata.stat().st_size + cost["range_bytes"]


def test_whole_archives_resume_and_ids_are_checked(tmp_path: Path, metadata: Path) -> None:
    frame = read_metadata(metadata)
    stems = select_images(frame, 24, [], 42, where="test")
    frame = frame[frame["filestem"].isin(stems)]
    write_metadata(metadata, frame[list(COLUMNS)].replace(0, "").astype(str).to_dict("records"))
    # large enough that a part holds more than the 1 MiB fetch writes at a time
    files = standin_article(metadata.parent, stems, read_metadata(metadata), 480)
    ids = repository_params(NAME).download.files
    with LocalFigshare(14825193, files) as server:
        part2 = metadata.parent / "images_part2.zip"
        assert part2.stat().st_size > 2**20 + 1000
        server.cut_after[ids["images_part2.zip"]] = 2**20 + 1000  # dropped mid-archive, once
        root = tmp_path / "project"
        root.mkdir()
        whole = {"download.api_url": server.api_url, "download.images": None}
        params(root, whole, synthetic=False)
        metrics = run("download", root)
        assert metrics["images_present"] == len(stems) == metrics["images_requested"]
        resumed = [r for path, r in server.requests if path == f"/storage/"
                   f"{ids['images_part2.zip']}"]
        assert resumed == [None, f"bytes={2**20}-"]  # the verified 1 MiB chunk is kept
        cache = root / ".cache" / "downloads" / NAME
        assert not list(cache.glob("*.zip"))  # extracted archives are deleted
        seen = len(server.requests)
        run("download", root)  # again: each archive's directory is read, none downloaded
        cost = read_timings(ExperimentPaths(root, NAME), "download")
        assert cost["already_cached"] == len(stems) and cost["member_bytes"] == 0
        archives = {f"/storage/{ids[name]}" for name in archive_names(ids)}
        assert {r for path, r in server.requests[seen:] if path in archives} == \
            {f"bytes=-{TAIL_BYTES}"}
        server.ignore_range = True  # no range requests: the archives are downloaded to check
        metrics = run("download", root)
        assert metrics["images_present"] == len(stems)
        cost = read_timings(ExperimentPaths(root, NAME), "download")
        assert cost["already_cached"] == len(stems) and not list(cache.glob("*.zip"))
        server.ignore_range = False
        params(root, {**whole, "download.files": {**ids, "images_part3.zip": 1}},
               synthetic=False)
        with pytest.raises(DownloadError, match=r"images_part3\.zip has id 34268864, expected 1"):
            run("download", root)


def subset_project(root: Path, server: LocalFigshare, images: int) -> Path:
    """A project reading ``images`` images from ``server``; returns the download cache's
    images folder."""
    root.mkdir()
    params(root, {"download.api_url": server.api_url, "download.images": images},
           synthetic=False)
    return root / ".cache" / "downloads" / NAME / "images"


def test_a_bad_cached_image_is_replaced(tmp_path: Path, metadata: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    frame = read_metadata(metadata)
    served = select_images(frame, 40, [], 42, where="test")
    with LocalFigshare(14825193, standin_article(metadata.parent, served, frame)) as server:
        root = tmp_path / "project"
        cache = subset_project(root, server, 12)
        run("download", root)
        wanted = select_images(frame, 12, [], 42, where="test")
        bad = cache / f"{wanted[0]}.png"
        good = (metadata.parent / "images" / bad.name).read_bytes()
        bad.write_bytes(good[:100] + bytes(len(good) - 100))  # same size, other bytes
        with caplog.at_level(logging.WARNING):
            run("download", root)
        assert str(bad) in caplog.text and "CRC-32" in caplog.text
        assert (root / "data" / "raw" / NAME / "images" / bad.name).read_bytes() == good
        assert bad.read_bytes() == good
        cost = read_timings(ExperimentPaths(root, NAME), "download")
        assert (cost["already_cached"], cost["cache_replaced"]) == (len(wanted) - 1, 1)


def test_images_from_a_fixed_mirror_are_used(tmp_path: Path, metadata: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """A mirror's image folder is read every run, never cached; an image cached from a mirror's
    archive is extracted again once that archive lists other content for it."""
    frame = read_metadata(metadata)
    served = select_images(frame, 40, [], 42, where="test")
    article = metadata.parent
    with LocalFigshare(14825193, standin_article(article, served, frame)) as server:
        wanted = select_images(frame, 12, [], 42, where="test")
        from_folder, from_archive = f"{wanted[0]}.png", f"{wanted[-1]}.png"
        for part in archive_names(repository_params(NAME).download.files):
            with zipfile.ZipFile(article / part) as archive:
                if f"{Path(part).stem}/{from_archive}" in archive.namelist():
                    break
        folder = tmp_path / "mirror" / "grazpedwri-dx"
        (folder / "images").mkdir(parents=True)
        shutil.copyfile(metadata, folder / "dataset.csv")
        good = {name: (article / "images" / name).read_bytes()
                for name in (from_folder, from_archive)}
        (folder / "images" / from_folder).write_bytes(good[from_folder][:200])  # truncated
        with zipfile.ZipFile(article / part) as archive, zipfile.ZipFile(
                folder / part, "w") as copy:  # one member differs
            for info in archive.infolist():
                data = archive.read(info)
                copy.writestr(info, data[:-1] + b"!" if info.filename.endswith(
                    f"/{from_archive}") else data)
        root = tmp_path / "project"
        cache = subset_project(root, server, 12)
        monkeypatch.setenv("PIPELINE_MIRROR", str(tmp_path / "mirror"))
        raw = root / "data" / "raw" / NAME / "images"
        run("download", root)
        assert (raw / from_folder).read_bytes() == good[from_folder][:200]
        assert (raw / from_archive).read_bytes() == good[from_archive][:-1] + b"!"
        assert not (cache / from_folder).exists()  # a mirror's image is not cached
        (folder / "images" / from_folder).write_bytes(good[from_folder])
        shutil.copyfile(article / part, folder / part)
        with caplog.at_level(logging.WARNING):
            run("download", root)
        assert (raw / from_folder).read_bytes() == good[from_folder]
        assert (raw / from_archive).read_bytes() == good[from_archive]
        assert str(cache / from_archive) in caplog.text and "now lists" in caplog.text
        cost = read_timings(ExperimentPaths(root, NAME), "download")
        assert (cost["from_mirror_folder"], cost["cache_replaced"]) == (1, 1)


# -- model ----------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["default", "offline_standins", "full_gpu"])
def test_the_presets_in_params_yaml_are_valid(tmp_path: Path, preset: str) -> None:
    loaded = load_experiment_params(params(tmp_path, {"preset": preset}, synthetic=False),
                                    NAME, Params)
    assert set(loaded.tune.architectures) <= set(ARCHITECTURES)
    assert loaded.tune.architectures == [str(value) for value in space_values(
        loaded.tune.search_space, "architecture", "small_cnn")]


def tune_params(**changes: object) -> TuneParams:
    """The repository's tune section with ``changes``, validated."""
    return TuneParams.model_validate(
        {**repository_params(NAME).tune.model_dump(mode="json"), **changes})


def test_unknown_architectures_and_searched_batch_sizes_are_refused() -> None:
    assert tuple(BACKBONES) == BACKBONE_NAMES  # what params accept is what the model builds
    with pytest.raises(ValueError, match="unknown"):
        tune_params(search_space={"architecture": {"values": ["small_cnn", "vgg99"]}})
    with pytest.raises(ValueError, match="unknown backbones"):
        tune_params(imagenet_weights={"vgg99": "weights.h5"})
    with pytest.raises(ValueError, match="batch_size cannot be searched"):
        tune_params(search_space={"batch_size": {"values": [16, 32]}})


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_architecture_builds_with_a_features_layer(architecture: str) -> None:
    space = {"architecture": architecture, "input_size": 48, "pooling": "avg"}
    model = build_model(fixed_hyperparameters(space), space, image_size=64, weights={},
                        augmentation=repository_params(NAME).train.augmentation, seed=0)
    assert model.output_shape == (None, 2)
    assert feature_map_size(model) >= 1


@pytest.mark.slow
def test_backbone_weights_come_from_a_file_or_the_stage_says_it_trains_from_scratch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = keras.applications.MobileNetV2(include_top=False, weights=None,
                                            input_shape=(32, 32, 3))
    source.save_weights(tmp_path / "mobilenet_v2.weights.h5")
    space = {"architecture": "mobilenet_v2", "fine_tune_layers": 3}
    weights = resolve_weights({"mobilenet_v2": str(tmp_path / "mobilenet_v2.weights.h5")},
                              tmp_path / "cache")
    model = build_model(fixed_hyperparameters(space), space, image_size=32, weights=weights,
                        augmentation=None, seed=0)
    backbone = model.get_layer(source.name)
    for ours, theirs in zip(backbone.get_weights(), source.get_weights(), strict=True):
        assert np.array_equal(ours, theirs)
    trainable = [layer.name for layer in backbone.layers if layer.trainable_weights]
    assert trainable and all(name in {layer.name for layer in backbone.layers[-3:]}
                             for name in trainable)
    logits = model.predict(np.zeros((2, 32, 32, 1), "float32"), verbose=0)
    assert logits.shape == (2, 2)
    with pytest.raises(ParamsError, match="does not exist"):
        resolve_weights({"resnet50": str(tmp_path / "nope.h5")}, tmp_path / "cache")
    with LocalFigshare(1, {}) as server, caplog.at_level(logging.WARNING):
        missing = resolve_weights({"resnet50": f"{server.root_url}/files/5"},
                                  tmp_path / "cache")
        assert missing["resnet50"] is None
        assert warn_without_weights(["resnet50", "small_cnn"], missing) == ["resnet50"]
    assert "NO IMAGENET WEIGHTS for resnet50" in caplog.text


@pytest.mark.slow
def test_the_pipeline_finds_and_explains_planted_fractures(tmp_path: Path) -> None:
    """On stand-ins whose positives carry a fracture-like mark, the model must separate the
    classes (ROC-AUC >= 0.95) and Grad-CAM's peak must fall on the mark in >= 80 % of the
    test positives: a model that learned anything else fails this. Each stage declares only
    its headline figures; the finer ones (subgroups...) are its details."""
    params(tmp_path, {
        "download.synthetic.images": 320, "download.synthetic.longest_side": 160,
        "preprocess.size": 64,
        "tune.tuner": "random_search", "tune.max_trials": 2, "tune.epochs": 1,
        "tune.batch_size": 16,
        "tune.search_space": {"architecture": "small_cnn", "conv_blocks": 3, "filters": 16,
                              "learning_rate": 0.001, "dropout": {"values": [0.1, 0.2]}},
        "train.epochs": 20, "train.batch_size": 16, "train.early_stopping_patience": 6,
        "train.reduce_lr_patience": 3,
        "explain.images_per_gallery": 6,
    }, synthetic=True)
    headline = {stage: run(stage, tmp_path) for stage in
                ("download", "preprocess", "tune", "train", "evaluate", "explain")}
    declared = {
        "download": {"images_requested", "images_present"},
        "preprocess": {"train_images", "validation_images", "test_images", "bad_images",
                       "patients_in_two_splits"},
        "tune": {"trials", "best_val_auc"},
        "train": {"best_val_loss"},
        "evaluate": {"roc_auc", "accuracy", "sensitivity", "specificity", "threshold"},
        "explain": {"gradcam_peak_on_mark_rate"},
    }
    for stage, names in declared.items():  # besides what the runner adds (synthetic, time)
        assert {name for name in headline[stage] if name != "synthetic"
                and not name.endswith("_seconds")} == names, stage
    assert details("train", tmp_path)["architecture"] == "small_cnn"
    evaluation, explanation = headline["evaluate"], headline["explain"]
    assert evaluation["roc_auc"] >= 0.95
    assert details("explain", tmp_path)["marked_positives"] >= 20
    assert explanation["gradcam_peak_on_mark_rate"] >= 0.8
    out = tmp_path / "data"
    subgroups = pd.read_csv(out / "evaluate" / NAME / "subgroups.csv")
    assert set(subgroups["group"]) == {"age_band", "projection", "cast"}
    samples = details("evaluate", tmp_path)["samples"]
    assert subgroups["images"].groupby(subgroups["group"]).sum().eq(samples).all()
    assert any(name.startswith("subgroup.") for name in details("evaluate", tmp_path))
    for name in ("gradcam_true_positives.png", "gradcam_false_negatives.png"):
        assert (out / "explain" / NAME / name).stat().st_size > 0
    trials = pd.read_csv(out / "tune" / NAME / "trials.csv")
    assert len(trials) == 2
    assert json.loads((out / "models" / NAME / "model_info.json").read_text())[
        "architecture"] == "small_cnn"
