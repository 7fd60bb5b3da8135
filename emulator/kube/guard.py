"""What the management API lets in, checked before any handler runs (an ASGI middleware).

As a Kubernetes API server: a bearer token on every request (401 `Unauthorized` without it), the request bodies
it can decode (415 for others: a browser's `text/plain` or form posts never reach a handler) and at most 3 MiB of
them (413 `RequestEntityTooLarge`). Beyond it, because a web page in the user's browser can reach 127.0.0.1:
a `Host` that is the API's own address (no DNS rebinding) and no foreign `Origin` (403 `Forbidden`); no CORS
headers are ever sent, so a browser never hands a cross-origin answer to a page.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from functools import lru_cache
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BODY_LIMIT", "BODY_MEDIA_TYPES", "UNAUTHENTICATED_PATHS", "AccessGuard", "allowed_hosts", "status_body"]

BODY_LIMIT = 3 * 1024 * 1024
"""The Kubernetes API server's request body limit (`MaxRequestBodyBytes`, 3 MiB)."""

BODY_MEDIA_TYPES = frozenset({
    "application/json", "application/yaml", "application/merge-patch+json", "application/json-patch+json",
    "application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/vnd.kubernetes.protobuf",
})
"""Request body types a Kubernetes API server decodes; an empty Content-Type reads as JSON, as there."""

UNAUTHENTICATED_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
"""Answer `ok` and nothing else (the API server lets anyone read them too)."""

_REASONS = {401: "Unauthorized", 403: "Forbidden", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType"}
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def status_body(code: int, message: str, reason: str | None = None) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason or _REASONS.get(code, "BadRequest"), "code": code}


@lru_cache(maxsize=8)
def allowed_hosts(bind_host: str, port: int) -> frozenset[str]:
    """`Host` values naming the API's own address: the bound address, and loopback's names when it is loopback."""
    names = {bind_host}
    try:
        address = ipaddress.ip_address(bind_host)
    except ValueError:
        address = None
    if address is not None and (address.is_loopback or address.is_unspecified):
        names |= {"127.0.0.1", "localhost", "::1"}
    hosts = set()
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        hosts |= {f"{shown}:{port}".lower()}
    return frozenset(hosts)


class AccessGuard:
    """Wraps the API app bound to `bind_host`; `token` is the bearer token.

    The accepted `Host` values come from `allowed_hosts` with the port the connection arrived on (known only once
    the server has bound it, port 0 included).
    """

    def __init__(self, app: ASGIApp, *, token: str, bind_host: str):
        self._app = app
        self._token = token.encode("ascii")
        self._bind_host = bind_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the API serves none; refused before any check could be skipped
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _respond(send, *refusal)
            return
        if scope["method"] not in _WITH_BODY and "content-length" not in headers \
                and "transfer-encoding" not in headers:
            await self._app(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > BODY_LIMIT:
            await _respond(send, 413, _too_large())
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, _too_large())
            return
        await self._app(scope, _replay(body, receive), send)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        server = scope.get("server")
        hosts = allowed_hosts(self._bind_host, server[1]) if server else frozenset()
        if headers.get("host", "").lower() not in hosts:
            return 403, "the Host header does not name this API server's address"
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in {f"https://{host}" for host in hosts}:
            return 403, "cross-origin requests are not allowed"
        if scope["path"] in UNAUTHENTICATED_PATHS and scope["method"] == "GET":
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode("utf-8", "replace"),
                                                                   self._token):
            return 401, "Unauthorized"
        if scope["method"] in _WITH_BODY or headers.get("content-length", "0") not in ("", "0"):
            media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media_type and media_type not in BODY_MEDIA_TYPES:
                return 415, f'the body of the request was in an unknown format - accepted media types include: ' \
                            f'{", ".join(sorted(BODY_MEDIA_TYPES))}'
        return None


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        if key not in headers:  # a repeated Host/Origin/Authorization counts as its first value
            headers[key] = value.decode("latin-1")
    return headers


def _too_large() -> str:
    return f"the request body is larger than the limit of {BODY_LIMIT} bytes"


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None once it passes BODY_LIMIT (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_LIMIT:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _respond(send: Send, code: int, message: str) -> None:
    payload = json.dumps(status_body(code, message)).encode("utf-8")
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
