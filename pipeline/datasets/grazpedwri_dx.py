"""GRAZPEDWRI-DX: is a fracture visible on a pediatric wrist radiograph? Explained with Grad-CAM.

Source: figshare article 14825193 (Nagy et al., Sci Data 2022): ``dataset.csv`` (one row per
image: patient, projection, flags) and ``images_part1.zip`` .. ``images_part4.zip`` (20,327
16-bit PNGs, about 15 GB). The file ids are pinned in params and confirmed through figshare's
API, whose sizes and md5 sums verify the downloads. A subset of images (whole patients,
stratified by label) is read out of the remote archives with HTTP range requests instead of
downloading them; whole archives resume after an interruption. Downloads go through a cache
folder outside the stage output (``.cache/downloads/grazpedwri_dx``), so an interrupted
multi-GB run picks up where it stopped.

Label: ``fracture_visible`` (blank = 0). Splits are grouped by ``patient_id`` (no patient in two
splits) and stratified by label, computed over the whole ``dataset.csv`` so a subset and the
full data agree on every patient's split. Images keep their 16 bits until a robust intensity
window is applied, keep their aspect ratio (resized, then padded to a square) and stream from
disk through :mod:`pipeline.image_loading`.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import logging
import os
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse
from urllib.request import url2pathname

import keras
import keras_tuner as kt
import mlflow
import numpy as np
import pandas as pd
from keras import layers
from PIL import Image
from pydantic import Field, model_validator
from sklearn import metrics as skm

from pipeline import evaluation, plots, tracking, training, tuning
from pipeline.attribution import grad_cam
from pipeline.classifier import (
    BEST_HYPERPARAMETERS,
    MODEL_FILE,
    ClassifierTuneParams,
    EpochTimer,
    predict_probabilities,
)
from pipeline.config import StrictModel
from pipeline.datasets.base import Dataset, Metrics, StageContext
from pipeline.download import Source, fetch
from pipeline.download.figshare import (
    API_URL,
    FigshareFile,
    FigshareUnavailable,
    confirm_files,
    list_files,
)
from pipeline.download.remote_zip import extract_members, members_by_basename, open_zip
from pipeline.errors import DataError, DownloadError, ParamsError, PipelineError
from pipeline.grouped_splits import grouped_stratified_sample, grouped_stratified_split
from pipeline.image_loading import (
    Geometry,
    UnreadableImage,
    fit_square,
    image_dataset,
    intensity_window,
    read_grayscale16,
    read_png16_unit,
    write_png16,
)
from pipeline.splits import stratified_subset

log = logging.getLogger(__name__)

NAME = "grazpedwri_dx"
MIRROR_FOLDER = "grazpedwri-dx"  # <mirror>/grazpedwri-dx/dataset.csv, as in ../shared/datasets
METADATA_FILE = "dataset.csv"
IMAGES = "images"
REQUESTED_FILE = "requested.csv"  # raw: the image stems the download was asked for
MARKS_FILE = "marks.csv"  # raw, synthetic only: where the fracture-like marks were drawn
SPLITS = ("train", "validation", "test")
CLASSES = ["no_fracture", "fracture"]
FEATURES_LAYER = "features"  # the last convolutional feature map, where Grad-CAM looks
MODEL_INFO = "model_info.json"
PREPARED_INFO = "prepared.json"

COLUMNS = (
    "filestem", "patient_id", "study_number", "timehash", "gender", "age", "laterality",
    "projection", "initial_exam", "ao_classification", "cast", "diagnosis_uncertain",
    "osteopenia", "fracture_visible", "metal", "pixel_spacing", "device_manufacturer",
)
REQUIRED_COLUMNS = (
    "filestem", "patient_id", "gender", "age", "laterality", "projection", "cast",
    "diagnosis_uncertain", "fracture_visible", "metal",
)
FLAG_COLUMNS = ("initial_exam", "cast", "diagnosis_uncertain", "osteopenia", "fracture_visible",
                "metal")
PROJECTIONS = {1: "pa_ap", 2: "lateral", 3: "other"}
METADATA_KEPT = ("patient_id", "age", "gender", "projection", "laterality", "cast", "metal",
                 "diagnosis_uncertain")
# The real dataset.csv: a mirror copy without figshare's md5 is accepted when it has these.
REAL_ROWS, REAL_PATIENTS, REAL_POSITIVES = 20_327, 6_091, 13_550


def archive_names(files: Mapping[str, int]) -> list[str]:
    return sorted(name for name in files if name.startswith("images_part") and
                  name.endswith(".zip"))


# name -> (constructor, per-channel scale, per-channel offset) mapping [0, 1] grey to its input
BACKBONES: dict[str, tuple[Any, tuple[float, ...], tuple[float, ...]]] = {
    "mobilenet_v2": (keras.applications.MobileNetV2, (2.0,) * 3, (-1.0,) * 3),
    "efficientnet_b0": (keras.applications.EfficientNetB0, (255.0,) * 3, (0.0,) * 3),
    "resnet50": (keras.applications.ResNet50, (255.0,) * 3, (-103.939, -116.779, -123.68)),
    "densenet121": (
        keras.applications.DenseNet121,
        tuple(1 / s for s in (0.229, 0.224, 0.225)),
        tuple(-m / s for m, s in zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), strict=True)),
    ),
}
ARCHITECTURES = ("small_cnn", *BACKBONES)


def space_values(space: Mapping[str, Any], name: str, default: Any) -> list[Any]:
    """Every value a hyperparameter can take in the space (a fixed value, or the choices)."""
    spec = space.get(name, default)
    if isinstance(spec, dict) and "values" in spec:
        return list(spec["values"])
    return list(spec.values) if isinstance(spec, tuning.ChoiceSpec) else [spec]


# -- params -------------------------------------------------------------------------------------


class SyntheticParams(StrictModel):
    images: int = Field(600, ge=20, description="stand-in radiographs to generate")
    longest_side: int = Field(256, ge=64, le=2048, description="pixels of the stand-ins")
    metadata: str | None = Field(
        None,
        description="a real dataset.csv: stand-ins take its file names, patients and labels "
        "(a patient-grouped, label-stratified sample), and real radiographs in the images/ "
        "folder beside it are used where sampled or included",
    )


class DownloadParams(StrictModel):
    article_id: int = 14825193
    api_url: str = API_URL
    files: dict[str, int] = Field(
        default_factory=lambda: {
            "dataset.csv": 35026432,
            "images_part1.zip": 34268828,
            "images_part2.zip": 34268849,
            "images_part3.zip": 34268864,
            "images_part4.zip": 34268891,
            "folder_structure.zip": 34268819,
        },
        description="figshare file ids, confirmed through the API before downloading",
    )
    images: int | None = Field(
        None, ge=1,
        description="a subset of about this many images (whole patients, stratified by "
        "label) read out of the remote archives with range requests; null: every image",
    )
    include: list[str] = Field(default_factory=list, description="image stems always fetched")
    synthetic: SyntheticParams = SyntheticParams()

    @model_validator(mode="after")
    def _needs_metadata_and_archives(self) -> DownloadParams:
        if METADATA_FILE not in self.files or not archive_names(self.files):
            raise ValueError(f"files must name {METADATA_FILE} and images_part*.zip archives")
        return self


class IntensityParams(StrictModel):
    method: Literal["range", "percentile"] = Field(
        "percentile", description="range: each image's min..max; percentile: low..high window"
    )
    low: float = Field(0.5, ge=0, lt=50)
    high: float = Field(99.5, gt=50, le=100)


class PreprocessParams(StrictModel):
    size: int = Field(128, ge=32, le=1024, description="side of the prepared square images")
    intensity: IntensityParams = IntensityParams()
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)
    max_bad_fraction: float = Field(
        0.01, ge=0, le=1,
        description="fail when more of the requested images are missing or unreadable",
    )
    workers: int | None = Field(None, ge=1, description="threads preparing images (all CPUs)")


class TuneParams(ClassifierTuneParams):
    objective: str = "val_auc"
    imagenet_weights: dict[str, str] = Field(
        default_factory=dict,
        description="backbone -> path or URL of its ImageNet weights without the top "
        "(keras.applications cannot download them offline); a backbone without weights "
        "trains from scratch, with a loud warning",
    )

    @model_validator(mode="after")
    def _known_architectures(self) -> TuneParams:
        unknown = sorted(set(self.imagenet_weights) - set(BACKBONES))
        if unknown:
            raise ValueError(f"imagenet_weights: unknown backbones {unknown} "
                             f"(known: {sorted(BACKBONES)})")
        unknown = sorted(set(map(str, space_values(self.search_space, "architecture",
                                                   "small_cnn"))) - set(ARCHITECTURES))
        if unknown:
            raise ValueError(f"search_space.architecture: unknown {unknown} "
                             f"(known: {list(ARCHITECTURES)})")
        if "batch_size" in self.search_space:
            raise ValueError("batches are streamed from disk at tune.batch_size: "
                             "batch_size cannot be searched")
        return self


class AugmentationParams(StrictModel):
    rotation: float = Field(0.03, ge=0, le=0.25, description="fraction of a full turn")
    contrast: float = Field(0.2, ge=0, le=0.9)
    zoom: float = Field(0.05, ge=0, le=0.5)
    horizontal_flip: bool = Field(True, description="wrists come in both lateralities")


class GrazTrainParams(training.TrainParams):
    augmentation: AugmentationParams | None = AugmentationParams()


class EvaluateParams(StrictModel):
    min_sensitivity: float | None = Field(
        None, gt=0, le=1,
        description="threshold: the highest whose validation sensitivity reaches this; "
        "null: the validation ROC point maximising sensitivity + specificity (Youden)",
    )
    age_bands: list[float] = Field(default_factory=lambda: [0.0, 5.0, 10.0, 15.0, 20.0],
                                   min_length=2)


class ExplainParams(StrictModel):
    images_per_gallery: int = Field(12, ge=1, le=64)
    extra_images: list[str] = Field(
        default_factory=list, description="image stems explained in any split (real cases)"
    )


class Params(StrictModel):
    download: DownloadParams = DownloadParams()
    preprocess: PreprocessParams = PreprocessParams()
    tune: TuneParams = TuneParams()
    train: GrazTrainParams = GrazTrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    explain: ExplainParams = ExplainParams()


# -- metadata -----------------------------------------------------------------------------------


def read_metadata(path: Path) -> pd.DataFrame:
    """``dataset.csv`` checked and typed: flags 0/1 (blank = 0), ``label`` = fracture_visible.

    Errors name the file, the line and the column.
    """
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; run the download stage") from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from None
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing} (found {list(frame.columns)})")
    frame = frame.apply(lambda column: column.str.strip())

    def bad(column: str, rows: np.ndarray, expected: str) -> DataError:
        lines = ", ".join(str(row + 2) for row in rows[:5])  # line 1 is the header
        return DataError(f"{path}, line {lines}: column {column} holds "
                         f"{frame[column].iloc[rows[0]]!r}; expected {expected}")

    for column in FLAG_COLUMNS:
        if column in frame.columns:
            values = frame[column].replace({"": "0", "1.0": "1", "0.0": "0"})
            wrong = np.flatnonzero(~values.isin(["0", "1"]).to_numpy())
            if len(wrong):
                raise bad(column, wrong, "blank (0) or 1")
            frame[column] = values.astype(np.int8)
    for column, kind, expected in (("patient_id", "integer", "an integer"),
                                   ("projection", "integer", "1, 2 or 3"),
                                   ("age", "float", "a number of years")):
        numbers = pd.to_numeric(frame[column], errors="coerce")
        wrong = np.flatnonzero(numbers.isna().to_numpy())
        if kind == "integer":
            wrong = np.union1d(wrong, np.flatnonzero((numbers % 1 != 0).to_numpy()))
        if column == "projection":
            wrong = np.union1d(wrong, np.flatnonzero(~numbers.isin(list(PROJECTIONS)).to_numpy()))
        if len(wrong):
            raise bad(column, wrong, expected)
        frame[column] = numbers.astype(np.int64 if kind == "integer" else np.float64)
    empty = np.flatnonzero((frame["filestem"] == "").to_numpy())
    if len(empty):
        raise bad("filestem", empty, "a file name stem")
    duplicated = np.flatnonzero(frame["filestem"].duplicated(keep=False).to_numpy())
    if len(duplicated):
        raise bad("filestem", duplicated, "each image once")
    frame["label"] = frame["fracture_visible"].astype(np.int64)
    return frame


def is_real_metadata(path: Path) -> bool:
    """Whether ``path`` is the complete GRAZPEDWRI-DX ``dataset.csv`` (row, patient and label
    counts, byte-order mark): accepts a mirror copy when figshare's md5 is unavailable."""
    try:
        with path.open("rb") as stream:
            bom = stream.read(3) == b"\xef\xbb\xbf"
        frame = read_metadata(path)
    except (OSError, DataError):
        return False
    return (bom and tuple(frame.columns[: len(COLUMNS)]) == COLUMNS
            and len(frame) == REAL_ROWS and frame["patient_id"].nunique() == REAL_PATIENTS
            and int(frame["label"].sum()) == REAL_POSITIVES)


def select_images(frame: pd.DataFrame, count: int | None, include: Sequence[str],
                  seed: int, *, where: str) -> list[str]:
    """Stems of every image, or of about ``count`` images made of whole patients and
    stratified by label, plus ``include``."""
    unknown = sorted(set(include) - set(frame["filestem"]))
    if unknown:
        raise ParamsError(f"{where}: images not in {METADATA_FILE}: {unknown[:5]}")
    if count is None:
        chosen = np.arange(len(frame))
    else:
        chosen = grouped_stratified_sample(frame["label"].to_numpy(),
                                           frame["patient_id"].to_numpy(), count, seed)
    stems = set(frame["filestem"].iloc[chosen]) | set(include)
    return sorted(stems)


def write_requested(folder: Path, stems: Sequence[str]) -> None:
    pd.DataFrame({"filestem": list(stems)}).to_csv(folder / REQUESTED_FILE, index=False)


# -- stand-in radiographs ----------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))


def render_radiograph(
    height: int, width: int, fracture: bool, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """A 16-bit stand-in wrist radiograph and, with ``fracture``, the box (x0, y0, x1, y1) of
    the fracture-like mark drawn across the distal radius.

    A tilted forearm (soft tissue, radius and ulna with brighter cortices), carpal and
    metacarpal bones, noise, a random exposure (offset and gain), an unexposed collimator
    edge and a saturated burned-in side marker: things the preprocessing must cope with.
    The mark is a dark gap across the radius with a bright ridge beside it.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    tilt = rng.uniform(-0.15, 0.15)
    dx, dy = xx - width * rng.uniform(0.42, 0.58), yy - height * 0.5
    across = dx * np.cos(tilt) - dy * np.sin(tilt)
    along = dx * np.sin(tilt) + dy * np.cos(tilt)
    arm = width * rng.uniform(0.28, 0.34)
    tissue = _sigmoid((arm - np.abs(across)) / 3.0)
    wrist = height * rng.uniform(-0.08, 0.04)
    radius_at, radius_half = -0.38 * arm, arm * rng.uniform(0.22, 0.27)
    ulna_at, ulna_half = 0.42 * arm, arm * rng.uniform(0.15, 0.19)

    def shaft(at: float, half: float) -> np.ndarray:
        distance = np.abs(across - at)
        body = _sigmoid((half - distance) / 1.2)
        cortex = 0.35 * np.exp(-(((half - distance) / (0.25 * half)) ** 2))
        return (0.65 + cortex) * body

    bones = (shaft(radius_at, radius_half) * _sigmoid((along - wrist) / 2.0)
             + shaft(ulna_at, ulna_half) * _sigmoid((along - wrist - 0.03 * height) / 2.0))
    for _ in range(int(rng.integers(5, 8))):  # carpal bones
        ex, ey = rng.uniform(-0.6, 0.6) * arm, wrist - rng.uniform(0.03, 0.16) * height
        rx, ry = rng.uniform(0.12, 0.2) * arm, rng.uniform(0.025, 0.04) * height
        bones += 0.7 * _sigmoid((1 - ((across - ex) / rx) ** 2 - ((along - ey) / ry) ** 2) * 6)
    for k in range(4):  # metacarpals
        bones += 0.6 * (_sigmoid((0.09 * arm - np.abs(across - (-0.55 + 0.37 * k) * arm)) / 1.2)
                        * _sigmoid((wrist - 0.19 * height - along) / 2.0))
    box = None
    if fracture:
        level = wrist + rng.uniform(0.06, 0.22) * height
        thickness = max(3.0, 0.05 * height)
        line = np.abs((along - level) - rng.uniform(-0.5, 0.5) * (across - radius_at))
        in_bone = np.abs(across - radius_at) < radius_half * 1.15
        gap, ridge = (line < thickness / 2) & in_bone, (line >= thickness / 2) & (
            line < thickness) & in_bone
        bones = np.where(gap, bones * 0.15, bones) + 0.35 * ridge
        rows, cols = np.nonzero(gap | ridge)
        box = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
    image = 0.18 * tissue + 0.55 * bones + rng.normal(0.0, 0.02, (height, width))
    pixels = rng.uniform(1500, 8000) + rng.uniform(30000, 52000) * image
    pixels[:, : int(rng.integers(0, max(1, width // 12)))] = 0  # collimator edge
    marker_h, marker_w = max(4, height // 18), max(6, width // 9)
    top = int(rng.integers(2, max(3, height // 6)))
    left = int(rng.integers(width - width // 4, max(width - width // 4 + 1, width - marker_w - 1)))
    pixels[top : top + marker_h, left : left + marker_w] = 65535  # burned-in side marker
    return np.clip(np.round(pixels), 0, 65535).astype(np.uint16), box


def generate_metadata(images: int, rng: np.random.Generator) -> list[dict[str, str]]:
    """Rows in dataset.csv's format for about ``images`` images: patients with one to three
    studies of two projections each; about 60 % of patients have a fracture, visible on most
    of their images."""
    rows: list[dict[str, str]] = []
    patient = 0
    while len(rows) < images:
        patient += 1
        gender, side = str(rng.choice(["M", "F"])), str(rng.choice(["L", "R"]))
        age = float(np.round(rng.uniform(1.0, 18.0), 1))
        fractured = rng.random() < 0.6
        for study in range(1, int(rng.integers(1, 4)) + 1):
            for projection in (1, 2):
                timehash = int(rng.integers(10**8, 10**10))
                visible = fractured and rng.random() < 0.9
                rows.append({
                    "filestem": f"{patient:04d}_{timehash:010d}_{study:02d}_WRI-{side}"
                                f"{projection}_{gender}{int(age):03d}",
                    "patient_id": str(patient), "study_number": str(study),
                    "timehash": str(timehash), "gender": gender, "age": f"{age:.1f}",
                    "laterality": side, "projection": str(projection),
                    "initial_exam": "1" if study == 1 else "",
                    "ao_classification": "23r-M/2.1" if fractured else "",
                    "cast": "1" if fractured and study > 1 else "",
                    "diagnosis_uncertain": "1" if rng.random() < 0.03 else "",
                    "osteopenia": "", "fracture_visible": "1" if visible else "",
                    "metal": "1" if rng.random() < 0.03 else "",
                    "pixel_spacing": "0.144", "device_manufacturer": "Siemens",
                })
    return rows


def write_metadata(path: Path, rows: Sequence[Mapping[str, str]]) -> None:
    """As figshare's file: UTF-8 with a byte-order mark, CRLF line ends, blank for 0."""
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def write_standins(
    folder: Path, frame: pd.DataFrame, stems: Sequence[str], longest_side: int,
    rng: np.random.Generator, *, real_images: Path | None = None,
) -> pd.DataFrame:
    """``folder/<stem>.png`` for every stem: the real radiograph from ``real_images`` when it
    is there, else a stand-in (with a mark when the row's label is 1). Returns the marks."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = frame.set_index("filestem")["label"]
    marks = []
    for stem in stems:
        real = real_images / f"{stem}.png" if real_images is not None else None
        if real is not None and real.is_file():
            shutil.copyfile(real, folder / f"{stem}.png")
            continue
        height = int(longest_side * rng.uniform(0.85, 1.0))
        pixels, box = render_radiograph(height, int(height * rng.uniform(0.6, 0.8)),
                                        bool(labels[stem]), rng)
        Image.fromarray(pixels).save(folder / f"{stem}.png")
        if box is not None:
            marks.append({"filestem": stem, "x0": box[0], "y0": box[1], "x1": box[2],
                          "y1": box[3]})
    return pd.DataFrame(marks, columns=["filestem", "x0", "y0", "x1", "y1"])


def write_article(folder: Path, metadata: Path, images: Sequence[Path],
                  files: Mapping[str, int]) -> dict[int, Path]:
    """An offline imitation of the figshare article's files in ``folder``, for
    :class:`~pipeline.download.local_figshare.LocalFigshare`: ``metadata`` as dataset.csv, the
    images zipped as figshare holds them (in file name order, split evenly across the
    archives, each member at ``<archive stem>/<file name>``) and a small folder_structure.zip.
    Returns the file ids (from ``files``) and paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {METADATA_FILE: folder / METADATA_FILE}
    if metadata.resolve() != paths[METADATA_FILE].resolve():
        shutil.copyfile(metadata, paths[METADATA_FILE])
    ordered = np.asarray(sorted(images, key=lambda path: path.name), dtype=object)
    names = archive_names(files)
    for name, chunk in zip(names, np.array_split(ordered, len(names)), strict=True):
        paths[name] = folder / name
        with zipfile.ZipFile(paths[name], "w", zipfile.ZIP_DEFLATED) as archive:
            for image in chunk:
                archive.write(image, f"{Path(name).stem}/{image.name}")
    for name in set(files) - set(paths):  # folder_structure.zip: not used here
        paths[name] = folder / name
        with zipfile.ZipFile(paths[name], "w") as archive:
            archive.writestr("README.txt", "stand-in\n")
    return {files[name]: path for name, path in paths.items()}


# -- download helpers ---------------------------------------------------------------------------


@functools.cache
def _figshare_files(api_url: str, article_id: int, expected: tuple[tuple[str, int], ...]
                    ) -> dict[str, FigshareFile]:
    return confirm_files(list_files(article_id, api_url=api_url), dict(expected),
                         article_id=article_id)


def figshare_files(params: DownloadParams) -> dict[str, FigshareFile]:
    """The article's files (ids confirmed, sizes, md5), asked once per process."""
    return _figshare_files(params.api_url, params.article_id, tuple(sorted(params.files.items())))


def local_mirror(mirror: str | None) -> Path | None:
    """The mirror's dataset folder when the mirror is a local directory."""
    if mirror is None or urlparse(mirror).scheme not in ("", "file"):
        return None
    root = Path(url2pathname(urlparse(mirror).path)) if mirror.startswith("file:") else Path(mirror)
    return root / MIRROR_FOLDER


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class ImageFetcher:
    """Gets the requested images into a cache folder: already cached, else from a local
    mirror's ``images/`` folder, else from the archives (a local mirror's or figshare's):
    whole archives (resumable) when every image is wanted, range requests for a subset."""

    def __init__(self, params: DownloadParams, cache: Path, mirror: str | None) -> None:
        self.params = params
        self.cache = cache
        self.images = cache / IMAGES
        self.mirror = mirror
        self.report: dict[str, Any] = {"range_bytes": 0, "range_requests": 0}

    def fetch(self, stems: Sequence[str]) -> list[str]:
        """Fetch what is not cached yet; return the stems found nowhere."""
        self.images.mkdir(parents=True, exist_ok=True)
        names = {f"{stem}.png": stem for stem in stems}
        todo = {name for name in names if not (self.images / name).is_file()}
        self.report.update(requested=len(names), already_cached=len(names) - len(todo))
        mirror = local_mirror(self.mirror)
        from_mirror = {name for name in todo
                       if mirror is not None and (mirror / IMAGES / name).is_file()}
        for name in sorted(from_mirror):
            shutil.copyfile(mirror / IMAGES / name, self.images / name)  # type: ignore[operator]
        todo -= from_mirror
        self.report["from_mirror_folder"] = len(from_mirror)
        if todo:
            try:
                files = figshare_files(self.params)
            except DownloadError as error:
                raise DownloadError(
                    f"{len(todo)} requested images are neither cached in {self.images} nor in "
                    f"the mirror, and figshare's file list is unavailable: {error}"
                ) from error
            for name in archive_names(self.params.files):
                if not todo:
                    break
                todo -= self._from_archive(files[name], todo, mirror)
        missing = sorted(names[name] for name in todo)
        self.report["not_in_archives"] = len(missing)
        return missing

    def _from_archive(self, file: FigshareFile, wanted: set[str], mirror: Path | None
                      ) -> set[str]:
        """Extract the wanted members this archive holds; return their names."""
        local = mirror / file.name if mirror is not None else None
        if self.params.images is None:
            location = fetch(file.source(MIRROR_FOLDER), self.cache, mirror=self.mirror)
        else:
            location = local if local is not None and local.is_file() else file.url
        with open_zip(location, expected_size=file.size) as (archive, reader):
            members = members_by_basename(archive, file.name)
            found = wanted & set(members)
            extract_members(archive, members, {name: self.images / name for name in found},
                            where=file.name, reader=reader)
            if reader is not None:
                self.report["range_bytes"] += reader.bytes_received
                self.report["range_requests"] += reader.requests
                self.report["archive_bytes"] = self.report.get("archive_bytes", 0) + file.size
                self.report["member_bytes"] = self.report.get("member_bytes", 0) + sum(
                    members[name].compress_size for name in found)
        if self.params.images is None and Path(location).parent == self.cache:
            Path(location).unlink()  # every member is extracted: free the space
        return found


# -- preprocessing ------------------------------------------------------------------------------


def prepare_image(source: Path, target: Path, size: int, intensity: IntensityParams
                  ) -> Geometry:
    pixels = read_grayscale16(source)
    windowed = intensity_window(pixels, intensity.method, intensity.low, intensity.high)
    square, geometry = fit_square(windowed, size)
    write_png16(target, square)
    return geometry


def read_split(processed: Path, split: str) -> pd.DataFrame:
    """The manifest of one split (``file`` made absolute)."""
    path = processed / f"{split}.csv"
    if not path.is_file():
        raise PipelineError(f"{path} is missing: run the preprocess stage first")
    frame = pd.read_csv(path, dtype={"filestem": str})
    frame["file"] = [str(processed / file) for file in frame["file"]]
    return frame


def prepared_size(processed: Path) -> int:
    return int(json.loads((processed / PREPARED_INFO).read_text())["size"])


# -- model --------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="grazpedwri_dx")
class PositiveClassAUC(keras.metrics.AUC):
    """ROC-AUC of class 1 from a two-class logits model (softmax taken here)."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        positive = keras.ops.softmax(y_pred, axis=-1)[:, 1]
        return super().update_state(y_true, positive, sample_weight)


def build_model(
    hp: kt.HyperParameters,
    space: Mapping[str, Any],
    *,
    image_size: int,
    weights: Mapping[str, str | None],
    augmentation: AugmentationParams | None,
    seed: int,
) -> keras.Model:
    """A compiled two-class logits model: augmentation (training only), resizing to the
    searched input size, then the small CNN or a ``keras.applications`` backbone (ImageNet
    weights from ``weights[backbone]`` when given; its top ``fine_tune_layers`` layers
    trainable, batch norm frozen) with a dropout + dense head. The last feature map is the
    layer named ``features``."""
    architecture = tuning.hyperparameter(hp, "architecture", space, default="small_cnn")
    input_size = tuning.hyperparameter(hp, "input_size", space, default=image_size)
    learning_rate = tuning.hyperparameter(hp, "learning_rate", space, default=1e-3)
    dropout = tuning.hyperparameter(hp, "dropout", space, default=0.2)
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = inputs
    if augmentation is not None:
        x = layers.RandomRotation(augmentation.rotation, fill_mode="constant", seed=seed,
                                  name="rotate")(x)
        x = layers.RandomZoom(augmentation.zoom, fill_mode="constant", seed=seed + 1,
                              name="zoom")(x)
        x = layers.RandomContrast(augmentation.contrast, value_range=(0, 1), seed=seed + 2,
                                  name="contrast")(x)
        if augmentation.horizontal_flip:
            x = layers.RandomFlip("horizontal", seed=seed + 3, name="flip")(x)
    if input_size != image_size:
        x = layers.Resizing(input_size, input_size, name="resize")(x)
    if architecture == "small_cnn":
        features = small_cnn(hp, space, x)
    else:
        constructor, scale, offset = BACKBONES[architecture]
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
        x = layers.Rescaling(list(scale), offset=list(offset), name="backbone_input")(x)
        backbone = constructor(include_top=False, weights=weights.get(architecture),
                               input_shape=(input_size, input_size, 3))
        fine_tune = tuning.hyperparameter(hp, "fine_tune_layers", space, default=0)
        for index, layer in enumerate(backbone.layers):
            layer.trainable = (index >= len(backbone.layers) - fine_tune
                               and not isinstance(layer, layers.BatchNormalization))
        features = backbone(x, training=False)
    features = layers.Identity(name=FEATURES_LAYER)(features)
    pooling = tuning.hyperparameter(hp, "pooling", space, default="max")
    pool = layers.GlobalMaxPooling2D if pooling == "max" else layers.GlobalAveragePooling2D
    x = pool(name="pool")(features)
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    # One fracture score s as the two class logits (-s/2, s/2): the softmax is sigmoid(s),
    # and Grad-CAM of the fracture logit follows the evidence for fracture against none
    # (with two free logits it would also follow features that raise both).
    # (float32 even under mixed precision: the loss needs the logits' full range)
    score = layers.Dense(1, dtype="float32", name="score")(x)
    logits = layers.Concatenate(dtype="float32", name="logits")(
        [layers.Rescaling(-0.5, dtype="float32", name="no_fracture_logit")(score),
         layers.Rescaling(0.5, dtype="float32", name="fracture_logit")(score)])
    model = keras.Model(inputs, logits, name=f"grazpedwri_{architecture}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy", PositiveClassAUC(name="auc")],
    )
    return model


def small_cnn(hp: kt.HyperParameters, space: Mapping[str, Any], x: Any) -> Any:
    """Blocks of two 3x3 conv + batch norm + ReLU, doubling the filters; 2x2 max-pooling
    between blocks (not after the last, which keeps Grad-CAM's map finer). Batch norm's
    momentum is 0.9, not 0.99: on small data the slower moving statistics lag behind the
    weights for many epochs and validation scores are meaningless meanwhile."""
    blocks = tuning.hyperparameter(hp, "conv_blocks", space, default=4)
    filters = tuning.hyperparameter(hp, "filters", space, default=16)
    for block in range(1, blocks + 1):
        for conv in (1, 2):
            x = layers.Conv2D(filters * 2 ** (block - 1), 3, padding="same", use_bias=False,
                              name=f"block{block}_conv{conv}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
        if block < blocks:
            x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    return x


def resolve_weights(locations: Mapping[str, str], cache: Path) -> dict[str, str | None]:
    """A local file for each configured backbone's ImageNet weights; None (and a loud
    warning) where a URL cannot be fetched. A local path that does not exist is an error."""
    resolved: dict[str, str | None] = {name: None for name in BACKBONES}
    for backbone, location in locations.items():
        if urlparse(location).scheme in ("http", "https"):
            filename = Path(urlparse(location).path).name or f"{backbone}.h5"
            try:
                path = fetch(Source("weights", location, filename), cache)
            except DownloadError as error:
                log.warning("%s", error)
                continue
            resolved[backbone] = str(path)
        elif Path(location).is_file():
            resolved[backbone] = str(Path(location).resolve())
        else:
            raise ParamsError(f"tune.imagenet_weights.{backbone}: {location} does not exist")
    return resolved


def warn_without_weights(architectures: Sequence[str], weights: Mapping[str, str | None]
                         ) -> list[str]:
    """Say loudly which backbones will train from scratch; return them."""
    scratch = sorted(name for name in architectures if name in BACKBONES and not weights[name])
    if scratch:
        banner = "!" * 78
        log.warning(
            "\n%s\nNO IMAGENET WEIGHTS for %s: these backbones train FROM SCRATCH (no transfer "
            "learning).\nSet tune.imagenet_weights.<backbone> to a local file or URL of the "
            "keras.applications\n'no top' weights to use them.\n%s", banner, ", ".join(scratch),
            banner)
        if mlflow.active_run() is not None:
            mlflow.set_tag("imagenet_weights_missing", ",".join(scratch))
    return scratch


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Balanced loss weights: each class contributes equally."""
    counts = np.bincount(labels, minlength=len(CLASSES))
    if np.any(counts == 0):
        raise DataError(f"the training split lacks a class (counts {counts.tolist()})")
    return {index: float(len(labels) / (len(CLASSES) * count))
            for index, count in enumerate(counts)}


def choose_threshold(labels: np.ndarray, scores: np.ndarray, min_sensitivity: float | None
                     ) -> float:
    """The decision threshold on fracture probability, chosen on validation predictions."""
    if len(np.unique(labels)) < 2:
        raise DataError("the validation split needs both classes to choose a threshold")
    fpr, tpr, thresholds = skm.roc_curve(labels, scores)
    if min_sensitivity is None:
        index = int(np.argmax(tpr - fpr))
    else:
        index = int(np.argmax(tpr >= min_sensitivity))
    return float(min(thresholds[index], 1.0))


def binary_rates(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    positives, negatives = labels == 1, labels == 0
    return {
        "sensitivity": float(predicted[positives].mean()) if positives.any() else None,
        "specificity": float(1 - predicted[negatives].mean()) if negatives.any() else None,
    }


def subgroup_table(frame: pd.DataFrame, age_bands: Sequence[float]) -> pd.DataFrame:
    """ROC-AUC, sensitivity and specificity per age band, projection and cast."""
    edges = list(age_bands)
    bands = [f"{low:g}-{high:g}" for low, high in itertools.pairwise(edges)]
    groups = {
        "age_band": pd.cut(frame["age"], bins=edges, right=False, labels=bands)
        .astype(str).replace("nan", "outside"),
        "projection": frame["projection"].map(PROJECTIONS).fillna("unknown"),
        "cast": frame["cast"].map({0: "no", 1: "yes"}),
    }
    rows = []
    for group, values in groups.items():
        for value in sorted(values.unique()):
            part = frame[values == value]
            labels, scores = part["label"].to_numpy(), part["score"].to_numpy()
            rows.append({
                "group": group, "value": value, "images": len(part),
                "positives": int(labels.sum()),
                "roc_auc": (float(skm.roc_auc_score(labels, scores))
                            if len(np.unique(labels)) == 2 else None),
                **binary_rates(labels, part["predicted"].to_numpy()),
            })
    return pd.DataFrame(rows)


def model_scores(model: keras.Model, frame: pd.DataFrame, size: int) -> np.ndarray:
    """Fracture probabilities for the images of a manifest, streamed from disk."""
    data = image_dataset(frame["file"], image_size=size, batch_size=64)
    return predict_probabilities(model, data)[:, 1]


# -- the dataset --------------------------------------------------------------------------------


class GrazpedwriDx(Dataset):
    name = NAME
    Params = Params

    # -- download ---------------------------------------------------------------------------
    def sources(self, params: Params) -> Sequence[Source]:
        d = params.download
        try:
            return [figshare_files(d)[METADATA_FILE].source(MIRROR_FOLDER)]
        except FigshareUnavailable as error:
            log.warning("%s Without figshare's md5, a mirror copy of %s is accepted only if "
                        "its content is the complete GRAZPEDWRI-DX metadata.", error,
                        METADATA_FILE)
            return [Source(MIRROR_FOLDER, f"https://ndownloader.figshare.com/files/"
                           f"{d.files[METADATA_FILE]}", METADATA_FILE)]

    def content_matches(self, source: Source, path: Path) -> bool:
        return source.filename == METADATA_FILE and is_real_metadata(path)

    def write_synthetic(self, out: Path, params: Params, rng: np.random.Generator) -> None:
        """Stand-in radiographs in the download layout: ``dataset.csv``, ``images/``,
        ``requested.csv``, plus ``marks.csv`` (where the fracture-like marks are)."""
        s = params.download.synthetic
        if s.metadata is None:
            write_metadata(out / METADATA_FILE, generate_metadata(s.images, rng))
            frame = read_metadata(out / METADATA_FILE)
            stems = select_images(frame, None, params.download.include, 0,
                                  where=f"{NAME}.download.include")
            real_images = None
        else:
            if not Path(s.metadata).is_file():
                raise ParamsError(f"{NAME}.download.synthetic.metadata: {s.metadata} is not a file")
            shutil.copyfile(s.metadata, out / METADATA_FILE)
            frame = read_metadata(out / METADATA_FILE)
            stems = select_images(frame, s.images, params.download.include,
                                  int(rng.integers(2**31)), where=f"{NAME}.download.include")
            real_images = Path(s.metadata).parent / IMAGES
        marks = write_standins(out / IMAGES, frame, stems, s.longest_side, rng,
                               real_images=real_images)
        marks.to_csv(out / MARKS_FILE, index=False)
        write_requested(out, stems)

    def download(self, ctx: StageContext) -> Metrics:
        super().download(ctx)  # dataset.csv (or, synthetic, everything)
        report = {} if ctx.synthetic else self._fetch_images(ctx)
        files = [path for path in ctx.out.rglob("*") if path.is_file()]
        requested = pd.read_csv(ctx.out / REQUESTED_FILE)
        return {"files": len(files), "bytes": sum(path.stat().st_size for path in files),
                **report, "images_requested": len(requested),
                "images_present": len(list((ctx.out / IMAGES).glob("*.png")))}

    def _fetch_images(self, ctx: StageContext) -> dict[str, Any]:
        """The requested images into ``images/`` (via the cache); returns what it cost."""
        d = ctx.params.download
        frame = read_metadata(ctx.out / METADATA_FILE)
        stems = select_images(frame, d.images, d.include, ctx.seed,
                              where=f"{NAME}.download.include")
        fetcher = ImageFetcher(d, ctx.paths.root / ".cache" / "downloads" / NAME,
                               ctx.shared.data.mirror)
        missing = fetcher.fetch(stems)
        if missing:
            log.warning("%d requested images are in no archive (preprocess lists them): %s",
                        len(missing), ", ".join(missing[:10]))
        (ctx.out / IMAGES).mkdir()
        for stem in sorted(set(stems) - set(missing)):
            _link_or_copy(fetcher.images / f"{stem}.png", ctx.out / IMAGES / f"{stem}.png")
        write_requested(ctx.out, stems)
        return fetcher.report

    # -- preprocess -------------------------------------------------------------------------
    def preprocess(self, ctx: StageContext) -> Metrics:
        p = ctx.params.preprocess
        raw = ctx.paths.raw
        frame = read_metadata(raw / METADATA_FILE)
        fractions = {"train": 1 - p.validation_fraction - p.test_fraction,
                     "validation": p.validation_fraction, "test": p.test_fraction}
        frame["split"] = grouped_stratified_split(frame["label"].to_numpy(),
                                                  frame["patient_id"].to_numpy(), fractions,
                                                  ctx.seed)
        frame[["filestem", "patient_id", "label", "split"]].to_csv(ctx.out / "split.csv",
                                                                   index=False)
        shared_patients = int((frame.groupby("patient_id")["split"].nunique() > 1).sum())
        requested = pd.read_csv(raw / REQUESTED_FILE, dtype=str)["filestem"]
        unknown = sorted(set(requested) - set(frame["filestem"]))
        if unknown:
            raise DataError(f"{raw / REQUESTED_FILE}: stems not in {METADATA_FILE}: {unknown[:5]}")
        chosen = frame.set_index("filestem").loc[list(requested)].reset_index()
        geometries, bad = self._prepare_all(ctx, chosen)
        pd.DataFrame(bad, columns=["file", "problem"]).to_csv(ctx.out / "bad_images.csv",
                                                               index=False)
        if len(bad) > p.max_bad_fraction * len(chosen):
            listed = "; ".join(f"{file}: {problem}" for file, problem in bad[:10])
            raise DataError(
                f"{len(bad)} of {len(chosen)} requested images in {raw / IMAGES} are missing or "
                f"unreadable (more than preprocess.max_bad_fraction = {p.max_bad_fraction}): "
                f"{listed}{' ...' if len(bad) > 10 else ''}"
            )
        for file, problem in bad:
            log.warning("skipped %s: %s", file, problem)
        kept = chosen[chosen["filestem"].isin(geometries)].copy()
        geometry = pd.DataFrame([geometries[stem].as_dict() for stem in kept["filestem"]],
                                index=kept.index)
        kept = pd.concat([kept, geometry], axis=1)
        kept["file"] = [f"{IMAGES}/{split}/{stem}.png"
                        for split, stem in zip(kept["split"], kept["filestem"], strict=True)]
        marks_file = raw / MARKS_FILE
        if marks_file.is_file():
            kept = kept.merge(pd.read_csv(marks_file, dtype={"filestem": str}), on="filestem",
                              how="left")
        columns = ["filestem", "file", "label", *METADATA_KEPT, *geometry.columns,
                   *[c for c in ("x0", "y0", "x1", "y1") if c in kept]]
        metrics: Metrics = {"csv_rows": len(frame), "csv_patients": int(frame.patient_id.nunique()),
                            "patients_in_two_splits": shared_patients,
                            "requested_images": len(chosen), "bad_images": len(bad)}
        for split in SPLITS:
            rows = frame[frame["split"] == split]
            part = kept[kept["split"] == split]
            part[columns].to_csv(ctx.out / f"{split}.csv", index=False)
            metrics.update({
                f"csv_{split}_images": len(rows),
                f"csv_{split}_patients": int(rows["patient_id"].nunique()),
                f"csv_{split}_positive_rate": round(float(rows["label"].mean()), 4),
                f"{split}_images": len(part),
                f"{split}_positive_rate": (round(float(part["label"].mean()), 4)
                                           if len(part) else None),
            })
        (ctx.out / PREPARED_INFO).write_text(json.dumps(
            {"size": p.size, "intensity": p.intensity.model_dump()}, indent=2))
        return metrics

    def _prepare_all(self, ctx: StageContext, chosen: pd.DataFrame
                     ) -> tuple[dict[str, Geometry], list[tuple[str, str]]]:
        p = ctx.params.preprocess
        for split in SPLITS:
            (ctx.out / IMAGES / split).mkdir(parents=True)

        def one(stem: str, split: str) -> tuple[str, Geometry | str]:
            try:
                return stem, prepare_image(ctx.paths.raw / IMAGES / f"{stem}.png",
                                           ctx.out / IMAGES / split / f"{stem}.png", p.size,
                                           p.intensity)
            except UnreadableImage as error:
                return stem, str(error)

        with ThreadPoolExecutor(p.workers or os.cpu_count()) as pool:
            results = list(pool.map(one, chosen["filestem"], chosen["split"]))
        geometries = {stem: r for stem, r in results if isinstance(r, Geometry)}
        bad = [(f"{stem}.png", r) for stem, r in results if isinstance(r, str)]
        return geometries, bad

    # -- tune -------------------------------------------------------------------------------
    def tune(self, ctx: StageContext) -> Metrics:
        p = ctx.params.tune
        size = prepared_size(ctx.paths.processed)
        train = read_split(ctx.paths.processed, "train")
        validation = read_split(ctx.paths.processed, "validation")
        subset = train.iloc[stratified_subset(train["label"].to_numpy(), p.train_subset,
                                              ctx.seed)]
        weights = resolve_weights(p.imagenet_weights, ctx.paths.root / ".cache" / "weights")
        architectures = space_values(p.search_space, "architecture", "small_cnn")
        scratch = warn_without_weights(architectures, weights)
        workdir = ctx.paths.tuner_workdir(tuning.configuration_hash(
            p.model_dump(mode="json"), ctx.seed, subset["filestem"].tolist(), size, weights,
            ctx.synthetic))
        best, trials = tuning.search(
            lambda hp: build_model(hp, p.search_space, image_size=size, weights=weights,
                                   augmentation=None, seed=ctx.seed),
            params=p,
            train=(image_dataset(subset["file"], subset["label"], image_size=size,
                                 batch_size=p.batch_size, shuffle=True, seed=ctx.seed), None),
            validation=(image_dataset(validation["file"], validation["label"],
                                      image_size=size, batch_size=p.batch_size), None),
            workdir=workdir,
            seed=ctx.seed,
            class_weight=class_weights(subset["label"].to_numpy()),
        )
        (ctx.out / BEST_HYPERPARAMETERS).write_text(json.dumps(best, indent=2, sort_keys=True))
        (ctx.out / MODEL_INFO).write_text(json.dumps({"weights": weights}, indent=2))
        pd.DataFrame(trials).to_csv(ctx.out / "trials.csv", index=False)
        mlflow.log_params({f"best.{key}": value for key, value in best.items()})
        scores = [row["score"] for row in trials if row["score"] is not None]
        return {
            "trials": len(trials),
            f"best_{p.objective}": max(scores) if scores else None,
            "tuned_on_images": len(subset),
            "backbones_from_scratch": len(scratch),
        }

    # -- train ------------------------------------------------------------------------------
    def train(self, ctx: StageContext) -> Metrics:
        p = ctx.params.train
        size = prepared_size(ctx.paths.processed)
        train = read_split(ctx.paths.processed, "train")
        validation = read_split(ctx.paths.processed, "validation")
        best = json.loads((ctx.paths.tune / BEST_HYPERPARAMETERS).read_text())
        weights = json.loads((ctx.paths.tune / MODEL_INFO).read_text())["weights"]
        architecture = best.get("architecture", "small_cnn")
        scratch = warn_without_weights([architecture], weights)
        hp = tuning.fixed_hyperparameters(best)
        timer = EpochTimer()
        with training.device_scope(p.mixed_precision):
            model = build_model(hp, hp.values, image_size=size, weights=weights,
                                augmentation=p.augmentation, seed=ctx.seed)
            history = training.fit(
                model,
                (image_dataset(train["file"], train["label"], image_size=size,
                               batch_size=p.batch_size, shuffle=True, seed=ctx.seed), None),
                (image_dataset(validation["file"], validation["label"], image_size=size,
                               batch_size=p.batch_size), None),
                p,
                class_weight=class_weights(train["label"].to_numpy()),
                callbacks=[timer],
            )
        model.save(ctx.out / MODEL_FILE)
        (ctx.out / MODEL_INFO).write_text(json.dumps(
            {"architecture": architecture, "image_size": size, "features_layer": FEATURES_LAYER,
             "imagenet_weights": weights.get(architecture)}, indent=2))
        training.save_history(history, ctx.plots / "history.csv")
        plots.training_history(history, ctx.out / "history.png")
        mlflow.log_artifacts(str(ctx.out), artifact_path="model")
        best_epoch = int(history[p.monitor].idxmin() if "loss" in p.monitor
                         else history[p.monitor].idxmax())
        tracking.register_model(
            ctx.dataset, p.monitor, float(history[p.monitor].iloc[best_epoch]),
            greater_is_better="loss" not in p.monitor, synthetic=ctx.synthetic,
        )
        return {
            "architecture": architecture,
            "trained_from_scratch": bool(scratch) or architecture == "small_cnn",
            "epochs_run": len(history),
            "best_epoch": best_epoch + 1,
            **{f"best_{name}": float(history[name].iloc[best_epoch])
               for name in history.columns if name.startswith("val_")},
            "parameters": int(model.count_params()),
            "train_images_per_second": round(len(train) / timer.median_seconds, 1),
        }

    # -- evaluate ---------------------------------------------------------------------------
    def load_model(self, ctx: StageContext) -> keras.Model:
        return keras.models.load_model(ctx.paths.model / MODEL_FILE, compile=False)

    def threshold(self, ctx: StageContext, model: keras.Model, size: int) -> float:
        validation = read_split(ctx.paths.processed, "validation")
        return choose_threshold(validation["label"].to_numpy(),
                                model_scores(model, validation, size),
                                ctx.params.evaluate.min_sensitivity)

    def scored_test(self, ctx: StageContext) -> tuple[keras.Model, pd.DataFrame, float]:
        """The model, the test manifest with scores and predictions, and the threshold."""
        size = prepared_size(ctx.paths.processed)
        model = self.load_model(ctx)
        threshold = self.threshold(ctx, model, size)
        test = read_split(ctx.paths.processed, "test")
        if test.empty:
            raise DataError(f"{ctx.paths.processed / 'test.csv'} holds no images")
        test["score"] = model_scores(model, test, size)
        test["predicted"] = (test["score"] >= threshold).astype(np.int64)
        return model, test, threshold

    def evaluate(self, ctx: StageContext) -> Metrics:
        _, test, threshold = self.scored_test(ctx)
        labels, predicted = test["label"].to_numpy(), test["predicted"].to_numpy()
        metrics = evaluation.classification_metrics(labels, predicted, CLASSES,
                                                    test["score"].to_numpy())
        metrics.update(threshold=threshold, **binary_rates(labels, predicted))
        evaluation.write_predictions(ctx.plots / "predictions.csv", labels, predicted, CLASSES)
        evaluation.write_confusion_matrix(ctx.out, labels, predicted, CLASSES)
        evaluation.write_binary_curves(ctx.out, labels, test["score"].to_numpy())
        test[["filestem", "label", "score", "predicted"]].to_csv(
            ctx.out / "test_predictions.csv", index=False, float_format="%.6g")
        subgroups = subgroup_table(test, ctx.params.evaluate.age_bands)
        subgroups.to_csv(ctx.out / "subgroups.csv", index=False, float_format="%.6g")
        for row in subgroups.itertuples(index=False):
            for name in ("images", "roc_auc", "sensitivity", "specificity"):
                value = getattr(row, name)
                if value is not None and not pd.isna(value):
                    metrics[f"subgroup.{row.group}.{row.value}.{name}"] = value
        mlflow.log_artifacts(str(ctx.out), artifact_path="evaluate")
        return metrics

    # -- explain ----------------------------------------------------------------------------
    def explain(self, ctx: StageContext) -> Metrics:
        e = ctx.params.explain
        model, test, threshold = self.scored_test(ctx)
        positive, predicted = test["label"] == 1, test["predicted"] == 1
        galleries = {
            "true_positives": test[positive & predicted].nlargest(e.images_per_gallery, "score"),
            "false_positives": test[~positive & predicted].nlargest(e.images_per_gallery,
                                                                     "score"),
            "false_negatives": test[positive & ~predicted].nsmallest(e.images_per_gallery,
                                                                      "score"),
        }
        if e.extra_images:
            everything = pd.concat([read_split(ctx.paths.processed, s) for s in SPLITS])
            unknown = sorted(set(e.extra_images) - set(everything["filestem"]))
            if unknown:
                raise ParamsError(f"explain.extra_images: not among the prepared images: "
                                  f"{unknown}")
            extra = everything[everything["filestem"].isin(e.extra_images)].copy()
            extra["score"] = model_scores(model, extra, prepared_size(ctx.paths.processed))
            galleries["selected"] = extra
        metrics: Metrics = {"threshold": threshold}
        for name, rows in galleries.items():
            maps = self.original_maps(ctx, model, rows)
            plots.image_gallery(
                ctx.out / f"gradcam_{name}.png",
                [original for original, _ in maps],
                [f"{stem[:14]}… y={label} p={score:.2f}" for stem, label, score in
                 zip(rows["filestem"], rows["label"], rows["score"], strict=True)],
                overlays=[heat for _, heat in maps],
                columns=6,
                suptitle=f"Grad-CAM of the fracture logit: {name.replace('_', ' ')}",
            )
            metrics[f"{name}_shown"] = len(rows)
        if {"x0", "y0", "x1", "y1"} <= set(test.columns):
            marked = test[positive & test["x0"].notna()]
            metrics["marked_positives"] = len(marked)
            metrics["gradcam_peak_on_mark_rate"] = peak_on_mark_rate(
                self.original_maps(ctx, model, marked, with_originals=False), marked,
                feature_map_size(model))
        mlflow.log_artifacts(str(ctx.out), artifact_path="explain")
        return metrics

    def original_maps(self, ctx: StageContext, model: keras.Model, rows: pd.DataFrame,
                      *, with_originals: bool = True) -> list[tuple[np.ndarray | None, np.ndarray]]:
        """(original radiograph windowed for display, Grad-CAM over it) per row: the map is
        cropped to the unpadded content and resized to the original's size."""
        if rows.empty:
            return []
        squares = np.stack([read_png16_unit(Path(file)) for file in rows["file"]])[..., None]
        maps = grad_cam(model, squares, np.ones(len(rows), dtype=np.int64), FEATURES_LAYER)
        intensity = ctx.params.preprocess.intensity
        result = []
        for heat, row in zip(maps, rows.itertuples(index=False), strict=True):
            geometry = Geometry(**{field: int(getattr(row, field)) for field in
                                   Geometry.__dataclass_fields__})
            original = None
            if with_originals:
                pixels = read_grayscale16(ctx.paths.raw / IMAGES / f"{row.filestem}.png")
                original = intensity_window(pixels, intensity.method, intensity.low,
                                            intensity.high)
            result.append((original, geometry.to_original(heat)))
        return result


def feature_map_size(model: keras.Model) -> int:
    """Cells across the Grad-CAM feature map (its resolution)."""
    return int(model.get_layer(FEATURES_LAYER).output.shape[1])


def peak_on_mark_rate(maps: Sequence[tuple[Any, np.ndarray]], rows: pd.DataFrame,
                      cells: int) -> float | None:
    """Share of images whose Grad-CAM maximum lies on the planted mark: inside its box grown
    by half a feature-map cell (in original pixels), how finely a Grad-CAM peak can be placed.
    """
    if rows.empty:
        return None
    hits = []
    for (_, heat), row in zip(maps, rows.itertuples(index=False), strict=True):
        y, x = np.unravel_index(np.argmax(heat), heat.shape)
        margin = 0.5 * max(row.height, row.width) / cells
        hits.append(row.x0 - margin <= x < row.x1 + margin
                    and row.y0 - margin <= y < row.y1 + margin)
    return float(np.mean(hits))


DATASET = GrazpedwriDx()
