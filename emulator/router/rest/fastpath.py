"""The REST hot path: `POST /v2/models/{name}[/versions/{version}]/infer` answered without FastAPI's routing.

Routing, request and response objects cost about as much per request as the JSON ↔ protobuf conversion itself.
This ASGI wrapper answers exactly the two infer routes, for POST, with the same function the FastAPI routes call
(`infer_json`), and hands every other request (other methods, paths, 404/405 bodies) to the FastAPI app.
Paths are matched on the decoded `scope["path"]` with Starlette's `[^/]+` rule for path parameters.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..dataplane import DataPlane
from ..status_map import error_json
from .body import CLOSE_CONNECTION, RequestTooLargeError, read_body

__all__ = ["INFER_PATH", "InferFastPath"]

INFER_PATH = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
InferJson = Callable[[DataPlane, str, str | None, bytes], Awaitable[tuple[int, bytes]]]
_CONTENT_TYPE = (b"content-type", b"application/json")


async def _respond(send: Send, status: int, payload: bytes, *headers: tuple[bytes, bytes]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(payload)).encode()), _CONTENT_TYPE, *headers]})
    await send({"type": "http.response.body", "body": payload})


class InferFastPath:
    def __init__(self, app: App, dataplane: DataPlane, infer_json: InferJson, max_body_size: int = -1):
        self.app = app
        self._dataplane = dataplane
        self._infer_json = infer_json
        self._max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            match = INFER_PATH.fullmatch(scope["path"])
            if match is not None:
                try:
                    body = await read_body(scope, receive, self._max_body_size)
                except RequestTooLargeError as exc:
                    await _respond(send, exc.http_status, error_json(exc.grpc_code, exc.message), CLOSE_CONNECTION)
                    return
                if body is None:
                    return
                status, payload = await self._infer_json(self._dataplane, match[1], match[2], body)
                await _respond(send, status, payload)
                return
        await self.app(scope, receive, send)
