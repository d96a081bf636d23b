"""MNIST: a CNN whose architecture and learning rate are searched, explained with Grad-CAM.

Source: Keras's ``mnist.npz`` (uint8 arrays ``x_train``/``y_train``/``x_test``/``y_test``).
A mirror copy whose npz bytes differ is accepted when its decoded arrays hash to the official
arrays' fingerprints (the copy in ``../shared/datasets`` is rebuilt from the IDX files).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import mlflow
import numpy as np
from keras import layers
from PIL import Image, ImageDraw, ImageFont
from pydantic import Field

from pipeline import attribution, plots
from pipeline.classifier import (
    ArrayClassificationDataset,
    ClassifierTuneParams,
    predict_probabilities,
)
from pipeline.config import StrictModel
from pipeline.datasets.base import Metrics, StageContext
from pipeline.download import Source
from pipeline.errors import DataError
from pipeline.splits import class_counts, load_split, save_split, stratified_indices
from pipeline.training import TrainParams
from pipeline.tuning import hyperparameter

CLASSES = [str(digit) for digit in range(10)]
IMAGE_SIZE = 28
ARRAY_SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
# sha256 of each official array's raw bytes (C order), from ../shared/datasets/README.md.
ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


class DownloadParams(StrictModel):
    url: str = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    sha256: str = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
    size: int = 11_490_434
    synthetic_train_images: int = Field(1200, ge=100)
    synthetic_test_images: int = Field(300, ge=50)


class PreprocessParams(StrictModel):
    validation_fraction: float = Field(0.1, gt=0, lt=0.5)


class AugmentationParams(StrictModel):
    rotation: float = Field(0.05, ge=0, le=0.5, description="fraction of a full turn")
    translation: float = Field(0.1, ge=0, le=0.5, description="fraction of the image size")
    zoom: float = Field(0.1, ge=0, le=0.5)


class MnistTrainParams(TrainParams):
    augmentation: AugmentationParams | None = AugmentationParams()


class EvaluateParams(StrictModel):
    gallery_size: int = Field(40, ge=1, le=200)


class ExplainParams(StrictModel):
    images_per_gallery: int = Field(24, ge=1, le=100)


class Params(StrictModel):
    download: DownloadParams = DownloadParams()
    preprocess: PreprocessParams = PreprocessParams()
    tune: ClassifierTuneParams = ClassifierTuneParams()
    train: MnistTrainParams = MnistTrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    explain: ExplainParams = ExplainParams()


class Mnist(ArrayClassificationDataset):
    name = "mnist"
    Params = Params

    # -- download --------------------------------------------------------------------------
    def sources(self, params: Params) -> Sequence[Source]:
        d = params.download
        return [Source(self.name, d.url, "mnist.npz", sha256=d.sha256, size=d.size)]

    def content_matches(self, source: Source, path: Path) -> bool:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return all(
                    key in arrays
                    and hashlib.sha256(np.ascontiguousarray(arrays[key]).tobytes()).hexdigest()
                    == digest
                    for key, digest in ARRAY_SHA256.items()
                )
        except (OSError, ValueError, zipfile.BadZipFile):
            return False

    def write_synthetic(self, out: Path, params: Params, rng: np.random.Generator) -> None:
        """Digits drawn with a font at random places, sizes and strokes: learnable, so the
        pipeline's tests can check that training works, and in the real npz layout."""
        d = params.download
        x_train, y_train = render_digits(d.synthetic_train_images, rng)
        x_test, y_test = render_digits(d.synthetic_test_images, rng)
        np.savez_compressed(
            out / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
        )

    # -- preprocess ------------------------------------------------------------------------
    def preprocess(self, ctx: StageContext) -> Metrics:
        arrays = read_npz(ctx.paths.raw / "mnist.npz", synthetic=ctx.synthetic)
        keep, held_out = stratified_indices(
            arrays["y_train"], ctx.params.preprocess.validation_fraction, ctx.seed
        )
        splits = {
            "train": (arrays["x_train"][keep], arrays["y_train"][keep]),
            "validation": (arrays["x_train"][held_out], arrays["y_train"][held_out]),
            "test": (arrays["x_test"], arrays["y_test"]),
        }
        metrics: Metrics = {}
        for split, (x, y) in splits.items():
            save_split(ctx.out, split, scale_images(x), y.astype("int32"))
            metrics[f"{split}_images"] = len(y)
            metrics[f"{split}_class_counts"] = class_counts(y, range(10))
        return metrics

    # -- model -----------------------------------------------------------------------------
    def class_names(self, params: Params) -> Sequence[str]:
        return CLASSES

    def build_model(self, hp: kt.HyperParameters, params: Params, *, augment: bool) -> keras.Model:
        augmentation = params.train.augmentation if augment else None
        return build_cnn(hp, params.tune.search_space, augmentation)

    def write_error_gallery(
        self, ctx: StageContext, x: np.ndarray, y: np.ndarray, probabilities: np.ndarray
    ) -> None:
        predicted = probabilities.argmax(axis=1)
        wrong = np.flatnonzero(predicted != y)[: ctx.params.evaluate.gallery_size]
        plots.image_gallery(
            ctx.out / "misclassified.png",
            x[wrong],
            [f"#{i}: {y[i]}→{predicted[i]} ({probabilities[i, predicted[i]]:.2f})" for i in wrong],
            suptitle=f"Misclassified test digits (true→predicted, p): {len(wrong)} shown",
        )

    # -- explain ---------------------------------------------------------------------------
    def explain(self, ctx: StageContext) -> Metrics:
        count = ctx.params.explain.images_per_gallery
        x_test, y_test = load_split(ctx.paths.processed, "test")
        model = self.load_model(ctx)
        predicted = predict_probabilities(model, x_test).argmax(axis=1)
        layer = last_block_output(model)
        correct = np.flatnonzero(predicted == y_test)[:count]
        wrong = np.flatnonzero(predicted != y_test)[:count]
        galleries = {
            "correct_predicted_class": (correct, predicted),
            "wrong_predicted_class": (wrong, predicted),
            "wrong_true_class": (wrong, y_test),
        }
        metrics: Metrics = {"conv_layer": layer}
        for name, (chosen, classes) in galleries.items():
            maps = attribution.grad_cam(model, x_test[chosen], classes[chosen], layer)
            plots.image_gallery(
                ctx.out / f"gradcam_{name}.png",
                x_test[chosen],
                [f"#{i} true {y_test[i]} pred {predicted[i]}" for i in chosen],
                overlays=maps,
                suptitle=f"Grad-CAM of the {name.split('_', 1)[1].replace('_', ' ')} logit",
            )
            metrics[f"{name}_images"] = len(chosen)
            metrics[f"{name}_mass_on_ink"] = mass_on_ink(maps, x_test[chosen])
        mlflow.log_artifacts(str(ctx.out), artifact_path="explain")
        return metrics


def render_digits(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` 28x28 uint8 images of digits in a font, labels balanced, order shuffled."""
    labels = rng.permutation(np.arange(count) % 10).astype("uint8")
    images = np.zeros((count, IMAGE_SIZE, IMAGE_SIZE), dtype="uint8")
    for index, label in enumerate(labels):
        canvas = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE))
        font = ImageFont.load_default(size=int(rng.integers(16, 24)))
        offset = rng.integers(-3, 4, size=2)
        ImageDraw.Draw(canvas).text(
            (14 + int(offset[0]), 14 + int(offset[1])),
            str(label),
            fill=255,
            font=font,
            anchor="mm",
            stroke_width=int(rng.integers(0, 2)),
            stroke_fill=255,
        )
        canvas = canvas.rotate(float(rng.uniform(-12, 12)), resample=Image.BILINEAR)
        images[index] = np.asarray(canvas)
    return images, labels


def read_npz(path: Path, *, synthetic: bool) -> dict[str, np.ndarray]:
    """The four arrays, checked: names, dtypes, shapes (real data), label range."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable npz file ({error})") from error
    for key, shape in ARRAY_SHAPES.items():
        if key not in arrays:
            raise DataError(f"{path}: array {key!r} is missing (found {sorted(arrays)})")
        array = arrays[key]
        if array.dtype != np.uint8:
            raise DataError(f"{path}: {key} has dtype {array.dtype}, expected uint8")
        expected = shape[1:] if synthetic else shape
        if (array.shape[1:] if synthetic else array.shape) != expected:
            raise DataError(f"{path}: {key} has shape {array.shape}, expected {shape}")
    for key in ("y_train", "y_test"):
        if arrays[key].max(initial=0) > 9:
            raise DataError(f"{path}: {key} holds labels above 9 (max {arrays[key].max()})")
    return arrays


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) → float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype("float32") / 255.0)[..., None]


def build_cnn(
    hp: kt.HyperParameters, space: dict[str, Any], augmentation: AugmentationParams | None
) -> keras.Model:
    """Conv blocks → dense layers → logits, every size read from the search space.

    Each block is ``convs_per_block`` same-padded convolutions (optionally batch-normalised)
    and a 2x2 max-pool while the feature map is at least 2x2, so every depth in the space
    builds (the original 5-block space shrank 28x28 to nothing). Blocks may set their own
    ``filters_<i>`` and dense layers ``units_<i>``; otherwise ``filters``/``units`` apply
    (one value per block, or one for all blocks with ``shared_filters: true``).
    """
    blocks = hyperparameter(hp, "conv_blocks", space)
    convs = hyperparameter(hp, "convs_per_block", space, default=1)
    kernel = hyperparameter(hp, "kernel_size", space, default=3)
    batch_norm = hyperparameter(hp, "batch_norm", space, default=False)
    activation = hyperparameter(hp, "activation", space, default="relu")
    shared_filters = hyperparameter(hp, "shared_filters", space, default=False)
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = inputs
    if augmentation is not None:
        x = layers.RandomRotation(augmentation.rotation, fill_mode="constant", name="rotate")(x)
        x = layers.RandomTranslation(
            augmentation.translation,
            augmentation.translation,
            fill_mode="constant",
            name="translate",
        )(x)
        x = layers.RandomZoom(augmentation.zoom, fill_mode="constant", name="zoom")(x)
    size = IMAGE_SIZE
    for block in range(1, blocks + 1):
        filters = (
            hyperparameter(hp, "filters", space)
            if shared_filters
            else hyperparameter(hp, f"filters_{block}", space, default=space.get("filters"))
        )
        for conv in range(1, convs + 1):
            x = layers.Conv2D(
                filters,
                kernel,
                padding="same",
                use_bias=not batch_norm,
                name=f"block{block}_conv{conv}",
            )(x)
            if batch_norm:
                # momentum 0.9: short tuning trials must still end with usable statistics
                x = layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn{conv}")(x)
            x = layers.Activation(activation, name=f"block{block}_act{conv}")(x)
        x = layers.Identity(name=f"block{block}_out")(x)
        if size >= 2:
            x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
            size //= 2
    x = layers.Flatten(name="flatten")(x)
    for dense in range(1, hyperparameter(hp, "dense_layers", space) + 1):
        units = hyperparameter(hp, f"units_{dense}", space, default=space.get("units"))
        x = layers.Dense(units, activation=activation, name=f"dense{dense}")(x)
    x = layers.Dropout(hyperparameter(hp, "dropout", space, default=0.0), name="dropout")(x)
    logits = layers.Dense(len(CLASSES), name="logits")(x)
    model = keras.Model(inputs, logits, name="mnist_cnn")
    model.compile(
        optimizer=keras.optimizers.Adam(hyperparameter(hp, "learning_rate", space)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def last_block_output(model: keras.Model) -> str:
    """The name of the last conv block's output, where Grad-CAM looks."""
    return [layer.name for layer in model.layers if layer.name.endswith("_out")][-1]


def mass_on_ink(maps: np.ndarray, images: np.ndarray, threshold: float = 0.2) -> float | None:
    """Share of the Grad-CAM mass that falls on the digit's pixels (a sanity figure)."""
    if not len(maps):
        return None
    ink = np.squeeze(images, axis=-1) > threshold
    return float((maps * ink).sum() / max(maps.sum(), 1e-12))


DATASET = Mnist()
