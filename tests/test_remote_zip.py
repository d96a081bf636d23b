"""Reading chosen members of a remote zip with range requests, and figshare's file list,
against the local figshare imitation on 127.0.0.1 (a real HTTP server, no mocks)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from fakes.local_figshare import LocalFigshare

from pipeline.core.errors import DownloadError
from pipeline.experiments.grazpedwri_dx import figshare
from pipeline.experiments.grazpedwri_dx.figshare import (
    FigshareUnavailable,
    confirm_files,
    list_files,
)
from pipeline.experiments.grazpedwri_dx.remote_zip import (
    MEMBER_SLACK_BYTES,
    TAIL_BYTES,
    extract_members,
    members_by_basename,
    open_zip,
)

FAST = {"backoff_seconds": 0.01, "timeout_seconds": 5.0}


def member_bytes(index: int, size: int = 40_000) -> bytes:
    return hashlib.sha256(str(index).encode()).digest() * (size // 32)


def write_zip(path: Path, count: int, *, force_zip64: bool = False,
              compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for index in range(count):
            with archive.open(f"images_part1/{index:04d}.png", "w",
                              force_zip64=force_zip64) as member:
                member.write(member_bytes(index))
    return path


def fetch(server: LocalFigshare, wanted: list[int], target: Path, **options: object) -> dict:
    url = f"{server.root_url}/files/1"
    with open_zip(url, **FAST, **options) as (archive, reader):
        members = members_by_basename(archive, "part1")
        extract_members(archive, members, {f"{i:04d}.png": target / f"{i:04d}.png"
                                           for i in wanted},
                        where="part1", reader=reader, progress=False)
        return {"received": reader.bytes_received, "requests": reader.requests,
                "members": sum(members[f"{i:04d}.png"].compress_size for i in wanted)}


@pytest.mark.parametrize("force_zip64", [False, True])
def test_reads_only_the_wanted_members(tmp_path: Path, force_zip64: bool) -> None:
    archive = write_zip(tmp_path / "images_part1.zip", 300, force_zip64=force_zip64,
                        compression=zipfile.ZIP_STORED)
    with LocalFigshare(7, {1: archive}) as server:
        counts = fetch(server, [5, 150, 299], tmp_path / "out")
    for index in (5, 150, 299):
        assert (tmp_path / "out" / f"{index:04d}.png").read_bytes() == member_bytes(index)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0005.png", "0150.png",
                                                                     "0299.png"]
    # the tail (end records + directory), then one request per member
    assert counts["requests"] == 1 + 3
    overhead = counts["received"] - counts["members"]
    assert 0 < overhead <= TAIL_BYTES + 3 * (MEMBER_SLACK_BYTES + 100)
    assert server.bytes_sent == counts["received"] < archive.stat().st_size / 20


def test_a_dropped_connection_is_retried(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "images_part1.zip", 50)
    with LocalFigshare(7, {1: archive}) as server:
        server.cut_after[1] = 1000  # the first answer stops after 1000 bytes
        fetch(server, [10], tmp_path / "out")
    assert (tmp_path / "out" / "0010.png").read_bytes() == member_bytes(10)


def test_a_corrupt_member_fails_and_leaves_nothing(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "images_part1.zip", 5, compression=zipfile.ZIP_STORED)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as reader:
        info = reader.getinfo("images_part1/0002.png")
    data[info.header_offset + 30 + len(info.filename) + 100] ^= 0xFF  # flip bits in the data
    archive.write_bytes(bytes(data))
    with LocalFigshare(7, {1: archive}) as server, pytest.raises(DownloadError, match="0002"):
        fetch(server, [2], tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_server_without_ranges_or_with_another_size_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "images_part1.zip", 5)
    with LocalFigshare(7, {1: archive}) as server:
        with pytest.raises(DownloadError, match="expected"):
            fetch(server, [1], tmp_path / "out", expected_size=archive.stat().st_size + 1)
        server.ignore_range = True
        with pytest.raises(DownloadError, match="range requests"):
            fetch(server, [1], tmp_path / "out")


def test_members_with_the_same_base_name_are_ambiguous(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "twice.zip", "w") as archive:
        archive.writestr("a/x.png", b"1")
        archive.writestr("b/x.png", b"2")
    with open_zip(tmp_path / "twice.zip") as (archive, reader), pytest.raises(
        DownloadError, match="two members"
    ):
        members_by_basename(archive, "twice.zip")
    assert reader is None


def test_figshare_listing_pages_and_checks_ids(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    files = {}
    for file_id in range(10, 15):
        files[file_id] = tmp_path / f"file{file_id}.bin"
        files[file_id].write_bytes(member_bytes(file_id, 64))
    monkeypatch.setattr(figshare, "PAGE_SIZE", 2)  # five files: three pages
    with LocalFigshare(99, files) as server:
        listed = list_files(99, api_url=server.api_url)
        assert [file.id for file in listed] == list(range(10, 15))
        assert listed[0].md5 == hashlib.md5(member_bytes(10, 64)).hexdigest()
        assert listed[0].size == 64 and listed[0].url.endswith("/files/10")
        confirmed = confirm_files(listed, {"file11.bin": 11}, article_id=99)
        assert confirmed["file11.bin"].id == 11
        with pytest.raises(DownloadError, match=r"file12\.bin has id 12, expected 13"):
            confirm_files(listed, {"file12.bin": 13}, article_id=99)
        with pytest.raises(DownloadError, match=r"missing\.zip"):
            confirm_files(listed, {"missing.zip": 1}, article_id=99)
        with pytest.raises(FigshareUnavailable, match="HTTP 404"):
            list_files(98, api_url=server.api_url)
    with pytest.raises(FigshareUnavailable, match="Could not reach"):
        list_files(99, api_url=server.api_url, timeout_seconds=2)
