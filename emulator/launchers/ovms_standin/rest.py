"""The stand-in's REST API: OVMS's config API (`GET /v1/config`, `POST /v1/config/reload`), TensorFlow
Serving's model status (`GET /v1/models/<name>`) and KServe V2's server metadata and health."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openvino

from .grpc_api import SERVER_NAME
from .models import ModelManager

__all__ = ["RELOAD_FAILED", "rest_server"]

log = logging.getLogger(__name__)
RELOAD_FAILED = "Reloading config file failed. Check server logs for more info."
_MAX_BODY = 1 << 20


def rest_server(address: str, port: int, models: ModelManager) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/v1/config":
                self._json(HTTPStatus.OK, models.status())
            elif path.startswith("/v1/models/") and path.count("/") == 3:
                name = path.rsplit("/", 1)[1]
                status = models.status().get(name)
                if status is None:
                    self._json(HTTPStatus.NOT_FOUND, {"error": "Model with requested name is not found"})
                else:
                    self._json(HTTPStatus.OK, status)
            elif path == "/v2":
                self._json(HTTPStatus.OK, {"name": SERVER_NAME, "version": f"openvino {openvino.__version__}",
                                           "extensions": []})
            elif path in ("/v2/health/live", "/v2/health/ready"):
                self._json(HTTPStatus.OK, {})
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"Not found: {path}"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request body too large"})
                return
            self.rfile.read(length)
            if self.path.split("?", 1)[0].rstrip("/") != "/v1/config/reload":
                self._json(HTTPStatus.NOT_FOUND, {"error": f"Not found: {self.path}"})
                return
            try:
                ok = models.reload()
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("config %s cannot be read: %s", models.config_path, exc)
                ok = False
            if ok:
                self._json(HTTPStatus.CREATED, models.status())
            else:
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": RELOAD_FAILED})

        def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("rest: " + format, *args)

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    return server
