"""Face boxes from OpenCV's pretrained frontal-face Haar cascade, and square crops around them.

The detector was trained elsewhere, so cropping with it uses nothing of the images' labels or
of any other image: a per-image step that cannot leak across a train/test split.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CASCADE = "haarcascade_frontalface_default.xml"


@dataclass(frozen=True)
class FaceBoxes:
    """One (x, y, width, height) square per image; ``detected`` is False where the cascade
    found no face and the median of the detected boxes stands in."""

    boxes: np.ndarray
    detected: np.ndarray


def detect_faces(images: np.ndarray, *, min_size: int = 60) -> FaceBoxes:
    """The largest face in each uint8 grayscale image of ``images`` (n, height, width).

    ValueError when no image has a detectable face (a fixed crop box is then the way).
    """
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
    if cascade.empty():
        raise RuntimeError(f"OpenCV could not load its {CASCADE}")
    boxes = np.zeros((len(images), 4), dtype=int)
    detected = np.zeros(len(images), dtype=bool)
    for index, image in enumerate(images):
        faces = cascade.detectMultiScale(image, scaleFactor=1.05, minNeighbors=5,
                                         minSize=(min_size, min_size))
        if len(faces):
            boxes[index] = max(faces, key=lambda box: box[2] * box[3])
            detected[index] = True
    if not detected.any():
        raise ValueError(f"the face detector found no face in any of the {len(images)} images")
    boxes[~detected] = np.median(boxes[detected], axis=0).astype(int)
    return FaceBoxes(boxes, detected)


def crop_faces(images: np.ndarray, boxes: np.ndarray, *, margin: float, size: int) -> np.ndarray:
    """Each image's box, widened by ``margin`` (a fraction of its width) on every side, resized
    to ``size`` x ``size`` by pixel-area averaging; edges are repeated where the widened box
    leaves the image. Same dtype as ``images``."""
    crops = np.empty((len(images), size, size), dtype=images.dtype)
    for index, (image, (x, y, width, height)) in enumerate(zip(images, boxes, strict=True)):
        pad = round(width * margin)
        padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        region = padded[y : y + height + 2 * pad, x : x + width + 2 * pad]
        crops[index] = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA)
    return crops
