"""An imitation of figshare on 127.0.0.1, for offline tests and measurements.

It answers the public API's file listing (paginated JSON with ids, sizes and md5 sums) and
serves each file the way figshare does: ``/files/<id>`` redirects to a storage address that
answers HTTP range requests (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``). It counts the body
bytes it sends, and can misbehave on request (drop a connection once, ignore ranges), so the
download code is exercised against a real server rather than a mock.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlparse

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class LocalFigshare(ThreadingHTTPServer):
    """``with LocalFigshare(article_id, {file_id: path}) as server:`` serves until the block
    ends; ``server.api_url`` is what a client's ``api_url`` param should be."""

    daemon_threads = True

    def __init__(self, article_id: int, files: Mapping[int, Path]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.article_id = article_id
        self.files = {file_id: Path(path) for file_id, path in files.items()}
        self.md5 = {file_id: _md5(path) for file_id, path in self.files.items()}
        self.lock = threading.Lock()
        self.bytes_sent = 0  # file bodies only (not the API's JSON)
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.cut_after: dict[int, int] = {}  # file id -> bytes sent before dropping, once
        self.ignore_range = False
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    @property
    def api_url(self) -> str:
        return f"{self.root_url}/v2"

    def listing(self) -> list[dict[str, object]]:
        """The file entries the API lists, in figshare's format."""
        return [
            {
                "id": file_id,
                "name": path.name,
                "size": path.stat().st_size,
                "is_link_only": False,
                "download_url": f"{self.root_url}/files/{file_id}",
                "supplied_md5": self.md5[file_id],
                "computed_md5": self.md5[file_id],
                "mimetype": "application/octet-stream",
            }
            for file_id, path in sorted(self.files.items())
        ]

    def __enter__(self) -> LocalFigshare:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with Path(path).open("rb") as stream:
        while chunk := stream.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


class _Handler(BaseHTTPRequestHandler):
    server: LocalFigshare
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        with self.server.lock:
            self.server.requests.append((url.path, self.headers.get("Range")))
        parts = url.path.strip("/").split("/")
        if parts[:2] == ["v2", "articles"] and len(parts) == 4 and parts[3] == "files":
            self._listing(parts[2], parse_qs(url.query))
        elif len(parts) == 2 and parts[0] == "files" and parts[1].isdigit():
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", f"/storage/{parts[1]}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif len(parts) == 2 and parts[0] == "storage" and parts[1].isdigit():
            self._file(int(parts[1]))
        else:
            self._empty(HTTPStatus.NOT_FOUND)

    def _empty(self, status: HTTPStatus, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _listing(self, article: str, query: dict[str, list[str]]) -> None:
        if article != str(self.server.article_id):
            self._empty(HTTPStatus.NOT_FOUND)
            return
        page = int(query.get("page", ["1"])[0])
        size = int(query.get("page_size", ["10"])[0])
        body = json.dumps(self.server.listing()[(page - 1) * size : page * size]).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _file(self, file_id: int) -> None:
        path = self.server.files.get(file_id)
        if path is None:
            self._empty(HTTPStatus.NOT_FOUND)
            return
        total = path.stat().st_size
        span = None if self.server.ignore_range else self._span(total)
        if span == "unsatisfiable":
            self._empty(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                        {"Content-Range": f"bytes */{total}"})
            return
        first, last = span if isinstance(span, tuple) else (0, total - 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK)
        if span:
            self.send_header("Content-Range", f"bytes {first}-{last}/{total}")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        with self.server.lock:
            cut = self.server.cut_after.pop(file_id, None)
        length = last - first + 1 if cut is None else min(cut, last - first + 1)
        with path.open("rb") as stream:
            stream.seek(first)
            shutil.copyfileobj(_Limited(stream, length), self.wfile, 2**20)
        with self.server.lock:
            self.server.bytes_sent += length
        if cut is not None:
            self.close_connection = True

    def _span(self, total: int) -> tuple[int, int] | str | None:
        """The requested ``(first, last)``, None without a usable Range header."""
        header = self.headers.get("Range")
        match = _RANGE.match(header or "")
        if match is None:
            return None
        start, end = match.groups()
        if not start and not end:
            return None
        if not start:  # the last n bytes
            return max(total - int(end), 0), total - 1
        first, last = int(start), min(int(end) if end else total - 1, total - 1)
        return (first, last) if first <= last else "unsatisfiable"


class _Limited:
    """The first ``length`` bytes of a stream."""

    def __init__(self, stream: object, length: int) -> None:
        self._stream = stream
        self._left = length

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._stream.read(size)  # type: ignore[attr-defined]
        self._left -= len(data)
        return data
