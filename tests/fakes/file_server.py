"""A small file server on 127.0.0.1 that can misbehave on request: drop the connection
after some bytes, answer 500 a few times, ignore Range, or send no Content-Length (so that a
body cut short looks complete)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


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
        self.no_length: set[str] = set()  # paths sent without Content-Length (ends at close)

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
        unframed = path in self.server.no_length
        if not unframed:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = self.server.cut_after.pop(path, None)
        self.wfile.write(body if cut is None else body[:cut])
        # without a length, only closing the connection ends the body (HTTP/1.0 style)
        self.close_connection = cut is not None or unframed

    def _range_start(self) -> int:
        header = self.headers.get("Range")
        if header is None or self.server.ignore_range:
            return 0
        return int(header.removeprefix("bytes=").split("-")[0])

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@contextmanager
def running(root: Path) -> Iterator[FileServer]:
    """A :class:`FileServer` of ``root`` serving until the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    httpd = FileServer(root)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
