"""explain@cifar10: Grad-CAM (the shared implementation) and CAM side by side, upsampled to
the image, for right and wrong test predictions of each class (CAM where the model ends in
global average pooling and one dense layer); then the trained model on the real cat and dog
photos: how many it calls right, with their maps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from keras import ops

from pipeline.core.context import Metrics, StageContext
from pipeline.core.runner import main
from pipeline.datasets.cifar10 import CLASSES
from pipeline.experiments.cifar10.backbone import LAST_CONV, prepare, with_trained_head
from pipeline.experiments.cifar10.cam import cam_applies, class_activation_maps, map_correlation
from pipeline.experiments.cifar10.data import PHOTOS, model_inputs, read_photos
from pipeline.experiments.cifar10.model import CAM_FEATURES
from pipeline.experiments.cifar10.params import EXPERIMENT
from pipeline.experiments.cifar10.weights import weights_file
from pipeline.ml import attribution, plots
from pipeline.ml.predict import load_trained_model, predict_probabilities
from pipeline.ml.split_files import load_split

CAT, DOG = CLASSES.index("cat"), CLASSES.index("dog")


def explain(ctx: StageContext) -> Metrics:
    head = load_trained_model(ctx.paths.model)
    model, network_input, layer = image_model(ctx, head)
    inputs, y_test = model_inputs(ctx, "test")
    images, _ = load_split(ctx.paths.processed, "test")
    predicted = predict_probabilities(head, inputs).argmax(axis=1)
    metrics: Metrics = {"cam_applies": cam_applies(model)}
    for outcome, mask in (("right", predicted == y_test), ("wrong", predicted != y_test)):
        chosen = np.concatenate([np.flatnonzero(mask & (y_test == label))
                                 [: ctx.params.explain.images_per_class]
                                 for label in range(len(CLASSES))]).astype(int)
        correlation = side_by_side(
            ctx.out / f"maps_{outcome}_predictions.png", model, network_input, layer,
            images[chosen], predicted[chosen],
            [f"{CLASSES[y_test[i]]}→{CLASSES[predicted[i]]}" for i in chosen],
            f"{outcome} test predictions (true→predicted), maps of the predicted class")
        metrics[f"cam_gradcam_correlation_{outcome}"] = correlation
    return {**metrics, **photos(ctx, model, network_input, layer)}


def image_model(ctx: StageContext, trained: keras.Model
                ) -> tuple[keras.Model, Callable[[np.ndarray], np.ndarray], str]:
    """The model on uint8 32x32 images, what it reads of them, and its last conv maps: the
    trained model itself, or a head on cached features put back on its backbone."""
    params = ctx.params.model
    if params.architecture != "backbone_head":
        return trained, np.asarray, CAM_FEATURES
    full = with_trained_head(params, weights_file(ctx.paths.raw, params.backbone), trained)
    return full, lambda x: prepare(x, params.backbone), LAST_CONV[params.backbone.architecture]


def side_by_side(path: Path, model: keras.Model, network_input: Callable[[np.ndarray], np.ndarray],
                 layer: str, images: np.ndarray, classes: np.ndarray, titles: list[str],
                 suptitle: str) -> float | None:
    """Grad-CAM beside CAM of each image (Grad-CAM alone where CAM does not apply), maps
    brought to the image's 32x32; returns the mean CAM / Grad-CAM correlation."""
    grad_cam = at_size(attribution.grad_cam(model, network_input(images), classes, layer),
                       images.shape[1])
    if not cam_applies(model):
        plots.image_gallery(path, images, [f"{t}\nGrad-CAM" for t in titles],
                            overlays=grad_cam, suptitle=f"{suptitle} (CAM does not apply: "
                            "the logits do not come from pooled maps)")
        return None
    cam = class_activation_maps(model, images, classes)
    plots.image_gallery(path, np.repeat(images, 2, axis=0),
                        [f"{t}\n{kind}" for t in titles for kind in ("Grad-CAM", "CAM")],
                        overlays=np.stack([grad_cam, cam], axis=1).reshape(-1, *cam.shape[1:]),
                        columns=8, suptitle=suptitle)
    return map_correlation(grad_cam, cam)


def at_size(maps: np.ndarray, size: int) -> np.ndarray:
    if maps.shape[1] == size:
        return maps
    return ops.convert_to_numpy(ops.image.resize(maps[..., None], (size, size)))[..., 0]


def photos(ctx: StageContext, model: keras.Model,
           network_input: Callable[[np.ndarray], np.ndarray], layer: str) -> Metrics:
    """The photos downscaled to 32x32: right when the top class of the ten is the animal
    (``photos_top1_correct``), and when of the two logits cat and dog the animal's is the
    larger (``photos_cat_vs_dog_correct``); their maps in ``photos.png``."""
    images, labels, names = read_photos(ctx.paths.raw)
    path = ctx.out / "photos.png"
    if not len(images):
        plots.image_gallery(path, [], [], suptitle=f"No cat and dog photos: the mirror has no "
                            f"{PHOTOS}/ folder, or cifar10.download.cats_dogs is off")
        return {"photos": 0}
    logits = ops.convert_to_numpy(model.predict(network_input(images), verbose=0))
    top = logits.argmax(axis=1)
    cat_vs_dog = np.where(logits[:, CAT] >= logits[:, DOG], CAT, DOG)
    source = "synthetic stand-ins" if ctx.synthetic else "real photos"
    side_by_side(path, model, network_input, layer, images, top,
                 [f"{name}: {CLASSES[t]}" for name, t in zip(names, top, strict=True)],
                 f"{len(images)} cat and dog {source} at 32x32: top-1 right "
                 f"{int(np.sum(top == labels))}, cat vs dog right "
                 f"{int(np.sum(cat_vs_dog == labels))}; maps of the top class")
    return {"photos": len(images), "photos_top1_correct": int(np.sum(top == labels)),
            "photos_cat_vs_dog_correct": int(np.sum(cat_vs_dog == labels))}


if __name__ == "__main__":
    main(EXPERIMENT, "explain", explain)
