"""The download layer against a real HTTP server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import hashlib
import logging
import socket
from pathlib import Path

import pytest
from fakes.file_server import FileServer

from pipeline.core.errors import DownloadError
from pipeline.download.fetch import fetch, partial_file
from pipeline.download.source import Source

DATASET = "toy"
FAST = {"backoff_seconds": 0.01, "timeout_seconds": 5.0, "progress": False}


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was just freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/missing.bin"


def payload(size: int, seed: int = 0) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (size // 32) + b"x" * (size % 32)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_for(url: str, data: bytes, **overrides: object) -> Source:
    fields: dict = {"dataset": DATASET, "url": url, "filename": "file.bin", "sha256": sha256(data)}
    fields.update(overrides)
    return Source(**fields)


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


# -- network ------------------------------------------------------------------------------------


def test_resume_after_the_connection_is_cut(server: FileServer, dest: Path) -> None:
    data = payload(3 * 2**20)  # several 1 MiB chunks, so a whole chunk arrives before the cut
    url = server.add("file.bin", data)
    server.cut_after["file.bin"] = 2**20 + 2**19

    path = fetch(source_for(url, data, size=len(data)), dest, **FAST)

    assert path == dest / "file.bin"
    assert path.read_bytes() == data
    (_, first_range), (_, second_range) = server.requests
    assert first_range is None
    assert second_range is not None and second_range.startswith("bytes=")
    assert int(second_range.removeprefix("bytes=").rstrip("-")) > 0
    assert listing(dest) == ["file.bin"]


def test_server_ignoring_range_restarts_from_zero(server: FileServer, dest: Path) -> None:
    data = payload(3 * 2**20, seed=1)
    url = server.add("file.bin", data)
    server.cut_after["file.bin"] = 2**20 + 1
    server.ignore_range = True

    path = fetch(source_for(url, data), dest, **FAST)

    assert path.read_bytes() == data
    assert server.requests[1][1] is not None  # it asked to resume, got the whole file
    assert listing(dest) == ["file.bin"]


def test_complete_part_file_answered_with_416_is_used(server: FileServer, dest: Path) -> None:
    data = payload(1000)
    url = server.add("file.bin", data)
    dest.mkdir()
    partial_file(dest, url, "file.bin").write_bytes(data)

    path = fetch(source_for(url, data), dest, **FAST)

    assert path.read_bytes() == data
    assert server.requests == [("file.bin", "bytes=1000-")]
    assert listing(dest) == ["file.bin"]


def test_part_file_that_does_not_fit_is_restarted(server: FileServer, dest: Path) -> None:
    data = payload(1000)
    url = server.add("file.bin", data)
    dest.mkdir()
    partial_file(dest, url, "file.bin").write_bytes(payload(2000, seed=4))  # too long

    path = fetch(source_for(url, data), dest, **FAST)

    assert path.read_bytes() == data
    assert server.requests == [("file.bin", "bytes=2000-"), ("file.bin", None)]
    assert listing(dest) == ["file.bin"]


def test_wrong_checksum_is_refused_and_deleted(server: FileServer, dest: Path) -> None:
    data = payload(5000)
    url = server.add("file.bin", data)
    wrong = "0" * 64

    with pytest.raises(DownloadError) as caught:
        fetch(source_for(url, data, sha256=wrong), dest, **FAST)

    message = str(caught.value)
    assert url in message and wrong in message and sha256(data) in message
    assert listing(dest) == []


def test_md5_is_checked_when_it_is_the_only_checksum(server: FileServer, dest: Path) -> None:
    data = payload(5000)
    url = server.add("file.bin", data)

    with pytest.raises(DownloadError, match="expected md5 "):
        fetch(source_for(url, data, sha256=None, md5="f" * 32), dest, **FAST)
    assert listing(dest) == []


def test_404_names_the_url_and_the_ways_out(server: FileServer, dest: Path) -> None:
    url = server.url("nowhere.bin")

    with pytest.raises(DownloadError) as caught:
        fetch(source_for(url, b""), dest, **FAST)

    message = str(caught.value)
    assert url in message and "HTTP 404" in message
    assert "$PIPELINE_MIRROR" in message and f"{DATASET}/file.bin" in message
    assert "data.synthetic: true" in message
    assert len(server.requests) == 1  # a 404 is not retried
    assert listing(dest) == []


def test_unreachable_host_names_the_cause(closed_port_url: str, dest: Path) -> None:
    with pytest.raises(DownloadError) as caught:
        fetch(source_for(closed_port_url, b""), dest, retries=2, **FAST)

    message = str(caught.value)
    assert closed_port_url in message and "connection refused" in message
    assert "$PIPELINE_MIRROR" in message and "data.synthetic: true" in message
    assert listing(dest) == []


def test_500_is_retried_until_it_succeeds(
    server: FileServer, dest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = payload(2000)
    url = server.add("file.bin", data)
    server.failures["file.bin"] = 2

    with caplog.at_level(logging.WARNING):
        path = fetch(source_for(url, data), dest, retries=2, **FAST)

    assert path.read_bytes() == data
    assert len(server.requests) == 3
    assert "HTTP 500" in caplog.text


def test_500_beyond_the_retries_fails(server: FileServer, dest: Path) -> None:
    data = payload(2000)
    url = server.add("file.bin", data)
    server.failures["file.bin"] = 5

    with pytest.raises(DownloadError, match="HTTP 500"):
        fetch(source_for(url, data), dest, retries=1, **FAST)
    assert len(server.requests) == 2
    assert listing(dest) == []


def test_second_call_makes_no_request(server: FileServer, dest: Path) -> None:
    data = payload(2000)
    source = source_for(server.add("file.bin", data), data)
    fetch(source, dest, **FAST)

    path = fetch(source, dest, **FAST)

    assert path.read_bytes() == data
    assert len(server.requests) == 1


def test_corrupt_existing_file_is_fetched_again(server: FileServer, dest: Path) -> None:
    data = payload(2000)
    source = source_for(server.add("file.bin", data), data)
    dest.mkdir()
    (dest / "file.bin").write_bytes(b"garbage")

    assert fetch(source, dest, **FAST).read_bytes() == data
    assert len(server.requests) == 1


def test_not_enough_disk_space(server: FileServer, dest: Path) -> None:
    data = payload(2000)
    source = source_for(server.add("file.bin", data), data, size=2**62)

    with pytest.raises(DownloadError, match=r"not enough free disk space .* MiB needed"):
        fetch(source, dest, **FAST)
    assert server.requests == []
    assert listing(dest) == []


# -- mirror -------------------------------------------------------------------------------------


def make_mirror(root: Path, data: bytes) -> Path:
    file = root / DATASET / "file.bin"
    file.parent.mkdir(parents=True)
    file.write_bytes(data)
    return root


@pytest.mark.parametrize("as_url", [False, True], ids=["directory", "file-url"])
def test_mirror_with_matching_checksum_needs_no_network(
    closed_port_url: str, tmp_path: Path, dest: Path, as_url: bool
) -> None:
    data = payload(3000)
    mirror = make_mirror(tmp_path / "mirror", data)

    path = fetch(
        source_for(closed_port_url, data),
        dest,
        mirror=mirror.as_uri() if as_url else str(mirror),
        **FAST,
    )

    assert path.read_bytes() == data
    assert listing(dest) == ["file.bin"]


def test_mirror_with_other_bytes_but_same_content_is_accepted(
    server: FileServer, tmp_path: Path, dest: Path
) -> None:
    official, repacked = payload(3000), payload(2900, seed=2)
    mirror = make_mirror(tmp_path / "mirror", repacked)
    checked: list[Path] = []

    def same_content(path: Path) -> bool:
        checked.append(path)
        return True

    source = source_for(server.add("file.bin", official), official)
    path = fetch(source, dest, mirror=str(mirror), content_check=same_content, **FAST)

    assert path.read_bytes() == repacked
    assert checked == [mirror / DATASET / "file.bin"]
    assert server.requests == []
    # A second run accepts the existing copy by its content too, still without the network.
    fetch(source, dest, mirror=str(mirror), content_check=same_content, **FAST)
    assert server.requests == []


def test_mirror_with_other_content_falls_back_to_the_network(
    server: FileServer, tmp_path: Path, dest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    official, other = payload(3000), payload(3000, seed=3)
    mirror = make_mirror(tmp_path / "mirror", other)
    source = source_for(server.add("file.bin", official), official)

    with caplog.at_level(logging.WARNING):
        path = fetch(source, dest, mirror=str(mirror), content_check=lambda _: False, **FAST)

    assert path.read_bytes() == official
    assert len(server.requests) == 1
    assert f"{mirror / DATASET / 'file.bin'}: expected sha256" in caplog.text
    assert listing(dest) == ["file.bin"]


def test_mirror_without_the_file_falls_back_to_the_network(
    server: FileServer, tmp_path: Path, dest: Path
) -> None:
    data = payload(3000)
    (tmp_path / "empty-mirror").mkdir()
    source = source_for(server.add("file.bin", data), data)

    path = fetch(source, dest, mirror=str(tmp_path / "empty-mirror"), **FAST)

    assert path.read_bytes() == data
    assert len(server.requests) == 1


def test_mirror_as_http_url_prefix(server: FileServer, closed_port_url: str, dest: Path) -> None:
    data = payload(3000)
    server.add(f"mirror/{DATASET}/file.bin", data)

    path = fetch(source_for(closed_port_url, data), dest, mirror=server.url("mirror/"), **FAST)

    assert path.read_bytes() == data
    assert server.requests == [(f"mirror/{DATASET}/file.bin", None)]
    assert listing(dest) == ["file.bin"]


# -- every way in verified; interrupted mirrors resumed; messages that say what applies ---------


@pytest.mark.parametrize("verified_by", ["checksum", "content"])
def test_a_body_cut_short_without_content_length_never_passes(
    server: FileServer, tmp_path: Path, dest: Path, verified_by: str
) -> None:
    """The server sends no Content-Length and closes halfway: to HTTP that is a complete
    body, so only verification can tell. Without a known checksum the content check does."""
    data = payload(4000)
    url = server.add("file.bin", data)
    server.no_length.add("file.bin")
    server.cut_after["file.bin"] = 2000
    source = source_for(url, data) if verified_by == "checksum" else source_for(
        url, data, sha256=None)

    with pytest.raises(DownloadError) as caught:
        fetch(source, dest, content_check=lambda path: path.read_bytes() == data, **FAST)

    message = str(caught.value)
    assert url in message and "the download was deleted" in message
    assert ("expected sha256" if verified_by == "checksum" else "content check failed") in (
        message)
    assert listing(dest) == []


def test_an_interrupted_mirror_download_resumes_in_the_next_run(
    server: FileServer, closed_port_url: str, tmp_path: Path, dest: Path
) -> None:
    data = payload(3 * 2**20, seed=5)
    server.add(f"mirror/{DATASET}/file.bin", data)
    server.cut_after[f"mirror/{DATASET}/file.bin"] = 2**20 + 2**19
    partials = tmp_path / "cache"
    source = source_for(closed_port_url, data)
    settings = {**FAST, "retries": 0}

    with pytest.raises(DownloadError):  # the mirror drops, the network is unreachable
        fetch(source, dest, mirror=server.url("mirror/"), partials=partials, **settings)
    (partial,) = partials.iterdir()
    assert 0 < partial.stat().st_size < len(data)

    path = fetch(source, dest, mirror=server.url("mirror/"), partials=partials, **settings)

    assert path.read_bytes() == data
    assert server.requests[-1] == (f"mirror/{DATASET}/file.bin", f"bytes={partial_size(data)}-")
    assert list(partials.iterdir()) == []


def partial_size(data: bytes) -> int:
    """What the cut mirror delivered before dropping: whole 1 MiB chunks reach the disk."""
    return 2**20 + 2**19 - (2**20 + 2**19) % 2**20 if len(data) > 2**20 else 0


def test_a_rejected_mirror_copy_is_named_in_the_way_out(
    closed_port_url: str, tmp_path: Path, dest: Path
) -> None:
    data = payload(3000)
    mirror = make_mirror(tmp_path / "mirror", payload(3000, seed=9))

    with pytest.raises(DownloadError) as caught:
        fetch(source_for(closed_port_url, data), dest, mirror=str(mirror), retries=0, **FAST)

    message = str(caught.value)
    copy = mirror / DATASET / "file.bin"
    assert f"  - {copy}: expected sha256" in message
    assert f"  - {closed_port_url}: connection refused" in message
    assert f"put the official file.bin at {copy} (the mirror's copy was rejected)" in message
    assert " set $PIPELINE_MIRROR to" not in message  # it is set: that advice would be false


def test_a_source_that_cannot_be_verified_is_a_programming_error(dest: Path) -> None:
    with pytest.raises(ValueError, match="a checksum or a content check"):
        fetch(Source(DATASET, "http://127.0.0.1:9/x", "x.bin"), dest, **FAST)
