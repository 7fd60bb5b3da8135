"""Reading a REST request body within a bound derived from `grpcMaxMessageSizeBytes`, the limit 8033 puts on the
message made from it.

A tensor's JSON text takes up to about four bytes per byte of the message made from it (an INT8 as `123,`, an FP32
as some twelve characters for its four bytes), so a body of up to BODY_PER_MESSAGE times the limit may still make a
message within it; that message is then checked against the limit itself (429, as 8033 answers). The body is
refused as soon as its Content-Length, or the bytes received so far, pass the bound: an oversized body is never
buffered whole. Upstream, rest-proxy reads any body and ModelMesh then refuses the message it sends
(RESOURCE_EXHAUSTED, HTTP 429); answering 413 before reading is the emulator's own choice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import grpc

from ...errors import EmulatorError

__all__ = ["BODY_PER_MESSAGE", "CLOSE_CONNECTION", "RequestTooLargeError", "body_limit", "read_body"]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
# sent with a 413 so that the server stops reading the rest of the body instead of draining it
CLOSE_CONNECTION = (b"connection", b"close")
BODY_PER_MESSAGE = 4


def body_limit(max_message_size: int) -> int:
    """The REST body bound for a message limit; negative: none."""
    return -1 if max_message_size < 0 else BODY_PER_MESSAGE * max_message_size


class RequestTooLargeError(EmulatorError):
    """A request body over the size limit: RESOURCE_EXHAUSTED, HTTP 413 (Content Too Large)."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 413


def _body_too_large(limit: int, size: str) -> RequestTooLargeError:
    return RequestTooLargeError(
        f"request body exceeds maximum size {limit} ({BODY_PER_MESSAGE} x grpcMaxMessageSizeBytes): {size}")


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def read_body(scope: MutableMapping[str, Any], receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when the client disconnected first; a negative `limit` is no limit.

    Raises RequestTooLargeError once Content-Length or the streamed bytes exceed `limit`.
    """
    bounded = limit >= 0
    declared = _declared_length(scope.get("headers", ()))
    if bounded and declared is not None and declared > limit:
        raise _body_too_large(limit, f"Content-Length {declared}")
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        received += len(chunk)
        if bounded and received > limit:
            raise _body_too_large(limit, f"more than {limit} bytes received")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
