"""Face boxes from OpenCV's Haar cascade and the square crops taken around them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.experiments.yalefaces.face_detection import crop_faces, detect_faces


def test_a_crop_is_the_widened_box_resized() -> None:
    image = np.arange(100 * 120, dtype=np.float32).reshape(1, 100, 120)
    crop = crop_faces(image, np.array([[30, 20, 40, 40]]), margin=0.25, size=20)
    expected = cv2.resize(image[0, 10:70, 20:80], (20, 20), interpolation=cv2.INTER_AREA)
    assert crop.shape == (1, 20, 20) and crop.dtype == np.float32
    np.testing.assert_allclose(crop[0], expected)


def test_a_box_past_the_edge_repeats_the_edge_pixels() -> None:
    image = np.zeros((1, 50, 50), dtype=np.uint8)
    image[0, :, 0] = 200  # the left column
    crop = crop_faces(image, np.array([[0, 10, 20, 20]]), margin=0.5, size=40)
    assert crop[0, :, :10].min() == 200  # the 10 columns left of the image are that column
    assert crop[0, :, 21:].max() == 0


def test_no_face_anywhere_is_an_error() -> None:
    blank = np.full((3, 243, 320), 128, dtype=np.uint8)
    with pytest.raises(ValueError, match="no face in any of the 3 images"):
        detect_faces(blank)
