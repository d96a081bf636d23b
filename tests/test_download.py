"""The download layer against a real HTTP server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.download import Source, extract_archive, fetch
from pipeline.errors import DownloadError

DATASET = "toy"
FAST = {"backoff_seconds": 0.01, "timeout_seconds": 5.0, "progress": False}


# -- a small file server that can misbehave on request ----------------------------------------


class FileServer(ThreadingHTTPServer):
    """Serves ``root`` with Range support; tests set the misbehaviour fields below."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.cut_after: dict[str, int] = {}  # path -> bytes sent before dropping, once
        self.failures: dict[str, int] = {}  # path -> how many 500s to answer first
        self.ignore_range = False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_port}/{path}"

    def add(self, path: str, data: bytes) -> str:
        file = self.root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
        return self.url(path)


class _Handler(BaseHTTPRequestHandler):
    server: FileServer

    def do_GET(self) -> None:
        path = self.path.lstrip("/")
        self.server.requests.append((path, self.headers.get("Range")))
        if self.server.failures.get(path, 0) > 0:
            self.server.failures[path] -= 1
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)
            return
        file = self.server.root / path
        if not file.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        data = file.read_bytes()
        start = self._range_start()
        if start >= len(data) > 0:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if start:
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(HTTPStatus.OK)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = self.server.cut_after.pop(path, None)
        self.wfile.write(body if cut is None else body[:cut])
        self.close_connection = cut is not None

    def _range_start(self) -> int:
        header = self.headers.get("Range")
        if header is None or self.server.ignore_range:
            return 0
        return int(header.removeprefix("bytes=").split("-")[0])

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FileServer]:
    root = tmp_path / "served"
    root.mkdir()
    httpd = FileServer(root)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "raw"


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
    (dest / "file.bin.part").write_bytes(data)

    path = fetch(source_for(url, data), dest, **FAST)

    assert path.read_bytes() == data
    assert server.requests == [("file.bin", "bytes=1000-")]
    assert listing(dest) == ["file.bin"]


def test_part_file_that_does_not_fit_is_restarted(server: FileServer, dest: Path) -> None:
    data = payload(1000)
    url = server.add("file.bin", data)
    dest.mkdir()
    (dest / "file.bin.part").write_bytes(payload(2000, seed=4))  # longer than the real file

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
    assert "data.mirror" in message and f"{DATASET}/file.bin" in message
    assert "data.synthetic: true" in message
    assert len(server.requests) == 1  # a 404 is not retried
    assert listing(dest) == []


def test_unreachable_host_names_the_cause(closed_port_url: str, dest: Path) -> None:
    with pytest.raises(DownloadError) as caught:
        fetch(source_for(closed_port_url, b""), dest, retries=2, **FAST)

    message = str(caught.value)
    assert closed_port_url in message and "connection refused" in message
    assert "data.mirror" in message and "data.synthetic: true" in message
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

    with pytest.raises(DownloadError, match=r"Not enough free disk space .* MiB needed"):
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
    assert "Ignoring mirror copy" in caplog.text
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


# -- archives -----------------------------------------------------------------------------------

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
    [({"max_total_bytes": 10_000}, "10000 bytes"), ({"max_members": 1}, "1 members")],
    ids=["bytes", "members"],
)
def test_archive_limits(tmp_path: Path, dest: Path, limits: dict, why: str) -> None:
    bomb = make_zip(tmp_path / "archive", {"zeros": bytes(2**20), "more": b"x"})
    assert bomb.stat().st_size < 10_000  # it compresses a lot

    with pytest.raises(DownloadError, match=why) as caught:
        extract_archive(bomb, dest, **limits)

    assert str(bomb) in str(caught.value)
    assert listing(dest) == []


def test_not_an_archive(tmp_path: Path, dest: Path) -> None:
    (tmp_path / "plain.txt").write_text("hello")

    with pytest.raises(DownloadError, match="neither a zip nor a tar"):
        extract_archive(tmp_path / "plain.txt", dest)
