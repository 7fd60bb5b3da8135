"""A local HTTP(S) server serving a directory, recording requests, optionally failing the first ones with 503."""

from __future__ import annotations

import functools
import ssl
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["FileServer", "Request"]


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, list[str]]


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        self.server.requests.append(Request(self.path, headers))
        if self.server.failures_left > 0:
            self.server.failures_left -= 1
            self.send_error(503, "try again")
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    requests: list[Request]
    failures_left: int


class FileServer:
    """`with FileServer(root, tls=context) as server: server.url("sklearn/model.joblib")`."""

    def __init__(self, root: Path, *, tls: ssl.SSLContext | None = None, fail_first: int = 0):
        self._server = _Server(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
        self._server.requests, self._server.failures_left = [], fail_first
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, name="file-server", daemon=True)

    @property
    def requests(self) -> list[Request]:
        return self._server.requests

    def url(self, path: str = "") -> str:
        return f"{self._scheme}://127.0.0.1:{self._server.server_port}/{path}"

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
