"""The faces as features: cropped (a fixed box or the detected face), block-averaged,
lighting-normalised and flattened."""

from __future__ import annotations

import numpy as np

from pipeline.core.errors import DataError, ParamsError
from pipeline.experiments.yalefaces.face_detection import crop_faces, detect_faces
from pipeline.experiments.yalefaces.params import FaceCropParams, PreprocessParams


def prepare_features(pixels: np.ndarray, params: PreprocessParams) -> tuple[np.ndarray, tuple[
        int, int], np.ndarray]:
    """Faces in [0, 1], cropped, block-averaged, lighting-normalised and flattened: float32
    (images, height * width), (height, width), and the indices of the images where a face
    crop found no face (cropped with the median detected box instead)."""
    images = pixels.astype("float32") / 255.0
    undetected = np.array([], dtype=int)
    if isinstance(params.crop, FaceCropParams):
        try:
            faces = detect_faces(pixels)
        except ValueError as error:
            raise DataError(f"yalefaces.preprocess.crop: {error}; use a fixed box "
                            "{top, bottom, left, right} instead") from error
        undetected = np.flatnonzero(~faces.detected)
        images = crop_faces(images, faces.boxes, margin=params.crop.face_margin,
                            size=params.crop.size)
    elif params.crop is not None:
        box = params.crop
        images = images[:, box.top : box.bottom, box.left : box.right]
    factor = params.downsample
    height, width = images.shape[1] // factor, images.shape[2] // factor
    if height == 0 or width == 0:
        raise ParamsError(f"yalefaces.preprocess.downsample: {factor} leaves no pixel of the "
                          f"{images.shape[1]}x{images.shape[2]} crop")
    images = images[:, : height * factor, : width * factor]
    images = images.reshape(len(images), height, factor, width, factor).mean(axis=(2, 4))
    flat = images.reshape(len(images), -1)
    if params.lighting == "standardize":
        flat = (flat - flat.mean(axis=1, keepdims=True)) / np.maximum(
            flat.std(axis=1, keepdims=True), 1e-6)
    elif params.lighting == "equalize":
        flat = flat.argsort(axis=1).argsort(axis=1) / (flat.shape[1] - 1)
    return flat.astype("float32"), (height, width), undetected
