"""16-bit images: reading, windowing, fitting to a square, streaming with tf.data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.experiments.grazpedwri_dx.images import (
    Geometry,
    UnreadableImage,
    fit_square,
    image_dataset,
    intensity_window,
    read_grayscale16,
    write_png16,
)


def test_read_keeps_16_bits_and_rejects_bad_files(tmp_path: Path) -> None:
    pixels = np.arange(0, 60000, 10, dtype=np.uint16).reshape(60, 100)
    Image.fromarray(pixels).save(tmp_path / "good.png")
    assert np.array_equal(read_grayscale16(tmp_path / "good.png"), pixels)
    data = (tmp_path / "good.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    Image.new("RGB", (8, 8)).save(tmp_path / "colour.png")
    for name, problem in (("truncated.png", "unreadable"), ("colour.png", "not grayscale"),
                          ("missing.png", "not found")):
        with pytest.raises(UnreadableImage, match=problem):
            read_grayscale16(tmp_path / name)


def test_percentile_window_ignores_a_saturated_marker() -> None:
    pixels = np.full((100, 100), 20000, dtype=np.uint16)
    pixels[:, 50:] = 30000
    pixels[:3, :3] = 65535  # a burned-in marker: 0.09 % of the pixels
    by_range = intensity_window(pixels, "range")
    by_percentile = intensity_window(pixels, "percentile", 0.5, 99.5)
    assert by_range[50, 75] == pytest.approx((30000 - 20000) / (65535 - 20000), abs=1e-6)
    assert by_percentile[50, 75] == 1.0 and by_percentile[50, 25] == 0.0


def test_fit_square_keeps_the_aspect_ratio_and_maps_back() -> None:
    image = np.random.default_rng(0).random((300, 200)).astype(np.float32)
    square, geometry = fit_square(image, 60)
    assert square.shape == (60, 60)
    assert (geometry.content_height, geometry.content_width) == (60, 40)
    assert (geometry.top, geometry.left) == (0, 10)
    assert square[:, :10].max() == 0 and square[:, 50:].max() == 0  # padding
    assert square[:, 10:50].mean() == pytest.approx(image.mean(), abs=0.01)  # area average
    heat = np.zeros((30, 30), dtype=np.float32)
    heat[:, 15:25] = 1.0  # the right half of the content, at half the square's resolution
    back = geometry.to_original(heat)
    assert back.shape == (300, 200)
    assert back[:, 110:].mean() > 0.95 and back[:, :90].mean() < 0.05


def test_geometry_of_a_landscape_image() -> None:
    geometry = Geometry.fit(100, 400, 64)
    assert (geometry.content_height, geometry.content_width, geometry.top) == (16, 64, 24)


def test_dataset_streams_exact_values_in_a_seeded_order(tmp_path: Path) -> None:
    files, labels = [], []
    for index in range(10):
        image = np.full((16, 16), index / 9.0, dtype=np.float32)
        write_png16(tmp_path / f"{index}.png", image)
        files.append(tmp_path / f"{index}.png")
        labels.append(index % 2)
    plain = list(image_dataset(files, labels, image_size=16, batch_size=4).as_numpy_iterator())
    images = np.concatenate([batch[0] for batch in plain])
    assert images.dtype == np.float32 and images.shape == (10, 16, 16, 1)
    assert np.allclose(images[:, 0, 0, 0], np.round(np.arange(10) / 9 * 65535) / 65535)
    assert np.concatenate([batch[1] for batch in plain]).tolist() == labels

    def order(seed: int) -> list[int]:
        data = image_dataset(files, labels, image_size=16, batch_size=4, shuffle=True, seed=seed)
        return [round(v * 9) for b in data.as_numpy_iterator() for v in b[0][:, 0, 0, 0]]

    assert order(1) == order(1) and sorted(order(1)) == list(range(10))
    assert order(1) != order(2)
    with pytest.raises(Exception, match="shape"):
        list(image_dataset(files, image_size=8, batch_size=4).as_numpy_iterator())
