"""Safe extraction of untrusted archives: no escapes, no links, no bombs."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from fakes.file_server import FileServer
from test_download import FAST, listing, source_for

from pipeline.core.errors import DownloadError
from pipeline.download.archive import Limits, extract_archive
from pipeline.download.fetch import fetch

FILES = {"a.txt": b"alpha", "sub/b.bin": bytes(range(256)) * 10}


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def make_tar(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if symlink is not None:
            link = tarfile.TarInfo("link")
            link.type, link.linkname = tarfile.SYMTYPE, symlink
            archive.addfile(link)
    return path


def expected_extraction(dest: Path, extracted: list[Path]) -> None:
    assert sorted(extracted) == sorted(dest / name for name in FILES)
    for name, data in FILES.items():
        assert (dest / name).read_bytes() == data


@pytest.mark.parametrize("make", [make_zip, make_tar], ids=["zip", "tar.gz"])
def test_archive_extracts(tmp_path: Path, dest: Path, make) -> None:
    archive = make(tmp_path / "archive", FILES)

    expected_extraction(dest, extract_archive(archive, dest))
    assert sorted(os.listdir(tmp_path)) == ["archive", "raw"]  # no staging folder left


def test_fetch_extracts_and_keeps_the_archive(server: FileServer, tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", FILES).read_bytes()
    source = source_for(server.add("a.tgz", archive), archive, filename="a.tgz", extract=True)
    dest = tmp_path / "out"

    fetch(source, dest, **FAST)

    assert (dest / "a.tgz").read_bytes() == archive
    expected_extraction(dest, [dest / name for name in FILES])


@pytest.mark.parametrize(
    ("make", "member", "why"),
    [
        (lambda p: make_zip(p, {**FILES, "../evil": b"x"}), "../evil", "'..'"),
        (lambda p: make_tar(p, {**FILES, "../evil": b"x"}), "../evil", "'..'"),
        (lambda p: make_zip(p, {**FILES, "/tmp/evil": b"x"}), "/tmp/evil", "absolute"),
        (lambda p: make_tar(p, {**FILES, "/tmp/evil": b"x"}), "/tmp/evil", "absolute"),
        (lambda p: make_tar(p, FILES, symlink="/etc/passwd"), "link", "link"),
    ],
    ids=["zip-dotdot", "tar-dotdot", "zip-absolute", "tar-absolute", "tar-symlink"],
)
def test_unsafe_member_is_refused(tmp_path: Path, dest: Path, make, member: str, why: str) -> None:
    archive = make(tmp_path / "archive")

    with pytest.raises(DownloadError) as caught:
        extract_archive(archive, dest)

    message = str(caught.value)
    assert str(archive) in message and repr(member) in message and why in message
    assert listing(dest) == []
    assert sorted(os.listdir(tmp_path)) == ["archive", "raw"]


@pytest.mark.parametrize(
    ("limits", "why"),
    [(Limits(total_bytes=10_000, ratio=1e6), "10000 bytes in all"),
     (Limits(members=1, ratio=1e6), "1 members"),
     (Limits(member_bytes=1000, ratio=1e6), "1000 bytes per member"),
     (Limits(ratio=5), "5 times the archive's")],
    ids=["bytes", "members", "member-bytes", "ratio"],
)
def test_archive_limits(tmp_path: Path, dest: Path, limits: Limits, why: str) -> None:
    bomb = make_zip(tmp_path / "archive", {"zeros": bytes(2**20), "more": b"x"})
    assert bomb.stat().st_size < 10_000  # it compresses a lot

    with pytest.raises(DownloadError, match=why) as caught:
        extract_archive(bomb, dest, limits=limits)

    assert str(bomb) in str(caught.value)
    assert listing(dest) == []


def lying_zip(path: Path, size: int) -> Path:
    """A zip whose one member declares 100 bytes but decompresses to ``size`` zero bytes:
    a bomb that passes every check made on the declared sizes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros", bytes(size))
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature)  # local header, then central directory entry
        data[at + offset : at + offset + 4] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("declared", ["honest", "lying"])
def test_a_512_mib_bomb_is_refused_in_seconds_and_leaves_nothing(
    tmp_path: Path, dest: Path, declared: str
) -> None:
    """512 MiB of zeros in a zip of about 500 KiB: refused by the ratio limit before anything
    is written. With headers that lie about the size, Python's zipfile stops reading at the
    declared size and the CRC check refuses the member; either way within two seconds, the
    disk left as it was."""
    path = tmp_path / "bomb.zip"
    if declared == "honest":
        make_zip(path, {"zeros": bytes(512 * 2**20)})
    else:
        lying_zip(path, 512 * 2**20)
    assert path.stat().st_size < 2**20
    free_before = shutil.disk_usage(tmp_path).free

    started = time.perf_counter()
    with pytest.raises(DownloadError) as caught:
        extract_archive(path, dest)
    seconds = time.perf_counter() - started

    assert seconds < 2.0, f"took {seconds:.1f} s to refuse"
    message = str(caught.value)
    assert str(path) in message
    assert ("times the archive's" if declared == "honest" else "Bad CRC-32") in message
    assert listing(dest) == [] and sorted(os.listdir(tmp_path)) == ["bomb.zip", "raw"]
    assert shutil.disk_usage(tmp_path).free >= free_before - 2**20


def test_not_an_archive(tmp_path: Path, dest: Path) -> None:
    (tmp_path / "plain.txt").write_text("hello")

    with pytest.raises(DownloadError, match="neither a zip nor a tar"):
        extract_archive(tmp_path / "plain.txt", dest)
