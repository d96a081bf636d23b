"""The shared image datasets: CIFAR-10's official container and the mirror's PNG zip reduced to
one order-independent fingerprint (the real copy accepted, a changed one refused), a refusal
to unpickle code, and Fruits-360's layout from an archive, an extracted mirror and stand-ins."""

from __future__ import annotations

import io
import logging
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.core.errors import DataError, DownloadError
from pipeline.datasets import cifar10, fruits360
from pipeline.datasets.images import ImageSet, content_fingerprint
from pipeline.download.source import Source


def synthetic_splits(seed: int = 0) -> dict[str, ImageSet]:
    rng = np.random.default_rng(seed)
    return {"train": cifar10.draw_images(rng, 6), "test": cifar10.draw_images(rng, 2)}


def write_png_zip(path: Path, splits: dict[str, ImageSet], *, order_seed: int = 0,
                  change: str | None = None) -> None:
    """The mirror's container: ``<split>/<class>/<name>`` PNGs, in a shuffled order; the
    image named ``change`` gets one pixel changed."""
    entries = [(split, images.classes[label], name, pixels)
               for split, images in splits.items()
               for name, label, pixels in zip(images.names, images.labels, images.images,
                                              strict=True)]
    order = np.random.default_rng(order_seed).permutation(len(entries))
    with zipfile.ZipFile(path, "w") as archive:
        for index in order:
            split, label, name, pixels = entries[index]
            if name == change:
                pixels = pixels.copy()
                pixels[0, 0, 0] ^= 1
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            archive.writestr(f"{split}/{label}/{name}", buffer.getvalue())


def same(a: ImageSet, b: ImageSet) -> bool:
    a, b = a.sorted_by_name(), b.sorted_by_name()
    return (a.names == b.names and np.array_equal(a.labels, b.labels)
            and np.array_equal(a.images, b.images) and a.classes == b.classes)


# -- CIFAR-10 -----------------------------------------------------------------------------------


def test_the_official_container_round_trips(tmp_path: Path) -> None:
    splits = synthetic_splits()
    cifar10.write_official(tmp_path / "cifar-10-python.tar.gz", splits)
    read = cifar10.read_official(tmp_path / "cifar-10-python.tar.gz")
    assert all(same(read[split], splits[split]) for split in splits)


def test_both_containers_give_one_fingerprint_whatever_the_order(tmp_path: Path) -> None:
    splits = synthetic_splits()
    cifar10.write_official(tmp_path / "official.tar.gz", splits)
    official = content_fingerprint(cifar10.read_official(tmp_path / "official.tar.gz"))
    for order_seed in (1, 2):
        write_png_zip(tmp_path / f"copy{order_seed}.zip", splits, order_seed=order_seed)
        assert content_fingerprint(cifar10.read_png_zip(tmp_path / f"copy{order_seed}.zip")) \
            == official
    write_png_zip(tmp_path / "changed.zip", splits, change=splits["test"].names[3])
    assert content_fingerprint(cifar10.read_png_zip(tmp_path / "changed.zip")) != official
    relabelled = {"train": splits["train"], "test": ImageSet(
        splits["test"].images, (splits["test"].labels + 1) % 10, splits["test"].names,
        cifar10.CLASSES)}
    assert content_fingerprint(relabelled) != official


@pytest.fixture
def png_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:
    """A mirror folder whose PNG zip holds the synthetic images, their fingerprint declared
    as CIFAR-10's, and the official archive at a URL that answers 404."""
    splits = synthetic_splits()
    monkeypatch.setattr(cifar10, "FINGERPRINT", content_fingerprint(splits))
    (tmp_path / "mirror" / "cifar10").mkdir(parents=True)
    return tmp_path / "mirror", splits


def test_a_mirror_png_zip_is_accepted_by_content(tmp_path: Path, png_mirror) -> None:
    mirror, splits = png_mirror
    write_png_zip(mirror / "cifar10" / cifar10.PNG_ZIP, splits)
    counts = cifar10.download(tmp_path / "raw", synthetic=False, rng=np.random.default_rng(0),
                              mirror=str(mirror), partials=tmp_path / "partials")
    assert counts == {"train_images": 60, "test_images": 20}
    assert all(same(cifar10.read(tmp_path / "raw", split), splits[split]) for split in splits)


def test_a_changed_png_zip_is_refused(tmp_path: Path, png_mirror, server,
                                      monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture) -> None:
    mirror, splits = png_mirror
    write_png_zip(mirror / "cifar10" / cifar10.PNG_ZIP, splits, change=splits["train"].names[0])
    monkeypatch.setattr(cifar10, "ARCHIVE", Source("cifar10", server.url("none.tar.gz"),
                                                   "cifar-10-python.tar.gz", sha256="0" * 64))
    with caplog.at_level(logging.WARNING), pytest.raises(DownloadError) as error:
        cifar10.download(tmp_path / "raw", synthetic=False, rng=np.random.default_rng(0),
                         mirror=str(mirror), partials=tmp_path / "partials")
    message = str(error.value)
    assert f"{mirror / 'cifar10' / cifar10.PNG_ZIP} is not CIFAR-10" in message
    assert cifar10.FINGERPRINT in message and "none.tar.gz" in message
    assert not (tmp_path / "raw" / "train_images.npy").exists()


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    payload = pickle.dumps({b"label_names": Payload()}, protocol=2)
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/batches.meta")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(DataError, match=r"batches.meta is not a CIFAR-10 batch \(refusing to "
                                        r"load (__builtin__|builtins).print\)"):
        cifar10.read_official(archive)


def test_a_png_entry_of_the_wrong_shape_is_named(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (28, 28)).save(buffer, format="PNG")
    with zipfile.ZipFile(tmp_path / "copy.zip", "w") as archive:
        archive.writestr("train/cat/odd.png", buffer.getvalue())
    with pytest.raises(DataError, match=r"entry train/cat/odd.png is a RGB image of shape "
                                        r"\(28, 28, 3\), expected RGB 32x32"):
        cifar10.read_png_zip(tmp_path / "copy.zip")


def test_only_keeps_and_relabels_the_classes_asked_for() -> None:
    pair = synthetic_splits()["test"].only(["ship", "frog"])
    assert pair.classes == ["ship", "frog"] and len(pair) == 4
    assert [name.split("_")[1] for name in pair.names] == ["frog", "frog", "ship", "ship"]
    assert pair.labels.tolist() == [1, 1, 0, 0]
    with pytest.raises(DataError, match="no class lorry"):
        pair.only(["lorry"])


@pytest.mark.slow
@pytest.mark.real_data
def test_the_real_png_copy_is_cifar10_and_a_changed_one_is_not(shared_datasets: Path,
                                                               tmp_path: Path) -> None:
    counts = cifar10.download(tmp_path / "raw", synthetic=False, rng=np.random.default_rng(0),
                              mirror=str(shared_datasets), partials=tmp_path / "partials")
    assert counts == {"train_images": 50000, "test_images": 10000}
    test = cifar10.read(tmp_path / "raw", "test")
    assert np.bincount(test.labels).tolist() == [1000] * 10 and test.images.shape[1:] == (32, 32, 3)
    splits = {split: cifar10.read(tmp_path / "raw", split) for split in cifar10.SPLITS}
    assert content_fingerprint(splits) == cifar10.FINGERPRINT
    splits["train"].images[12345, 5, 5] ^= 1  # one pixel of one image: no longer CIFAR-10
    assert content_fingerprint(splits) != cifar10.FINGERPRINT


# -- Fruits-360 ---------------------------------------------------------------------------------

FRUITS = ["Banana", "Blueberry"]


def github_archive(path: Path, classes: list[str]) -> None:
    """A zip in the layout of the GitHub release, with a class not asked for."""
    standins = path.parent / "standins"
    fruits360.write_standins(standins, [*classes, "Cherry 1"], 3, np.random.default_rng(1))
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(standins.rglob("*.jpg")):
            archive.write(file, f"Fruit-Images-Dataset-master/{file.relative_to(standins)}")


def test_fruits_standins_are_in_the_real_layout(tmp_path: Path) -> None:
    counts = fruits360.download(tmp_path, synthetic=True, rng=np.random.default_rng(0),
                                mirror=None, partials=tmp_path, classes=FRUITS,
                                synthetic_per_class=4)
    assert counts == {"training_images": 8, "test_images": 8}
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jpg"))[:2] == [
        "Test/Banana/0_100.jpg", "Test/Banana/1_100.jpg"]
    images = fruits360.read(tmp_path, "Training", FRUITS)
    assert images.images.shape == (8, 100, 100, 3) and images.labels.tolist() == [0] * 4 + [1] * 4


@pytest.mark.parametrize("extracted", [False, True], ids=["archive", "extracted folder"])
def test_fruits_from_a_mirror_keep_only_the_classes_asked_for(tmp_path: Path,
                                                              extracted: bool) -> None:
    mirror = tmp_path / "mirror" / "fruits360"
    mirror.mkdir(parents=True)
    if extracted:
        fruits360.write_standins(mirror, [*FRUITS, "Cherry 1"], 3, np.random.default_rng(1))
    else:
        github_archive(mirror / fruits360.SOURCE.filename, FRUITS)
    dest = tmp_path / "raw"
    dest.mkdir()
    counts = fruits360.download(dest, synthetic=False, rng=np.random.default_rng(0),
                                mirror=str(tmp_path / "mirror"), partials=tmp_path / "partials",
                                classes=FRUITS, synthetic_per_class=0)
    assert counts == {"training_images": 6, "test_images": 6}
    assert {p.name for p in (dest / "Training").iterdir()} == set(FRUITS)
    assert not (dest / fruits360.SOURCE.filename).exists()


def test_a_fruits_archive_without_a_class_is_refused(tmp_path: Path, server,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror" / "fruits360"
    mirror.mkdir(parents=True)
    github_archive(mirror / fruits360.SOURCE.filename, ["Banana"])
    monkeypatch.setattr(fruits360, "SOURCE", Source("fruits360", server.url("none.zip"),
                                                    fruits360.SOURCE.filename))
    with pytest.raises(DownloadError, match="no Training/ images of Blueberry"):
        fruits360.download(tmp_path / "raw", synthetic=False, rng=np.random.default_rng(0),
                           mirror=str(tmp_path / "mirror"), partials=tmp_path / "partials",
                           classes=FRUITS, synthetic_per_class=0)
