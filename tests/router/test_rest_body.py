"""The REST body limit on ASGI messages and both infer paths (on a real server: test_wire_limits.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import httpx
import pytest

from emulator.errors import ModelNotFoundError
from emulator.router.rest.body import RequestTooLargeError, read_body
from emulator.router.rest.server import build_rest_app

Receive = Callable[[], Awaitable[dict[str, Any]]]


def _scope(content_length: int | None) -> dict[str, Any]:
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    return {"type": "http", "headers": headers}


def _receiver(*chunks: bytes, disconnect: bool = False) -> tuple[Receive, list[int]]:
    """An ASGI receive callable sending `chunks`; the list counts the messages taken from it."""
    taken: list[int] = []

    async def receive() -> dict[str, Any]:
        index = len(taken)
        taken.append(index)
        if index == len(chunks):
            assert disconnect, "read past the last chunk"
            return {"type": "http.disconnect"}
        more = index + 1 < len(chunks) or disconnect
        return {"type": "http.request", "body": chunks[index], "more_body": more}

    return receive, taken


async def test_a_body_within_the_limit_is_returned_whole() -> None:
    receive, _ = _receiver(b"ab", b"cd", b"e")
    assert await read_body(_scope(5), receive, 5) == b"abcde"


async def test_a_declared_length_over_the_limit_is_refused_before_any_read() -> None:
    receive, taken = _receiver(b"x" * 11)

    with pytest.raises(RequestTooLargeError) as caught:
        await read_body(_scope(11), receive, 10)

    assert taken == []
    assert caught.value.http_status == 413
    assert caught.value.grpc_code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.message == \
        "request body exceeds maximum size 10 (4 x grpcMaxMessageSizeBytes): Content-Length 11"


async def test_a_streamed_body_is_refused_at_the_chunk_that_passes_the_limit() -> None:
    receive, taken = _receiver(b"x" * 4, b"x" * 4, b"x" * 4, b"x" * 4)

    with pytest.raises(RequestTooLargeError) as caught:
        await read_body(_scope(None), receive, 10)

    assert len(taken) == 3  # the fourth chunk is never asked for
    assert caught.value.message == "request body exceeds maximum size 10 (4 x grpcMaxMessageSizeBytes): " \
                                   "more than 10 bytes received"


async def test_a_negative_limit_is_no_limit() -> None:
    receive, _ = _receiver(b"x" * 100, b"y")
    assert await read_body(_scope(101), receive, -1) == b"x" * 100 + b"y"


async def test_a_client_gone_before_the_end_gives_none() -> None:
    receive, _ = _receiver(b"ab", disconnect=True)
    assert await read_body(_scope(None), receive, 10) is None


class _UnknownModels:
    """A dataplane stand-in that knows no model: enough to see a body get past the limit."""

    async def call(self, method: str, request: bytes, metadata: object, timeout: float | None = None) -> bytes:
        raise ModelNotFoundError("vmodel not found")


@pytest.mark.parametrize("root_path", ["", "/proxy"], ids=["fast path", "FastAPI routes"])
async def test_both_infer_paths_refuse_a_body_over_the_limit(root_path: str) -> None:
    app = build_rest_app(_UnknownModels(), 10)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://rest") as client:
        small = await client.post(f"{root_path}/v2/models/m/infer", content=b"{}")
        large = await client.post(f"{root_path}/v2/models/m/infer", content=b"{}" + b" " * 39)

    assert (small.status_code, small.json()) == (404, {"code": 5, "message": "vmodel not found"})
    assert large.status_code == 413
    assert large.headers["connection"] == "close"
    assert large.json() == {"code": 8, "message": "request body exceeds maximum size 40 (4 x grpcMaxMessageSizeBytes): "
                                                  "Content-Length 41"}
