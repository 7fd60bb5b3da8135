"""Load-generating clients with as little of their own cost as possible, and the loops that drive them.

gRPC: one grpc.aio channel, the method called with pre-serialised request bytes and no response decoding.
REST: a raw asyncio HTTP/1.1 client, one keep-alive connection per concurrent worker, the request bytes built
once; it reads the status line, Content-Length (or chunked) and the body, nothing else.
Every loop is bounded both in count and in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc

__all__ = [
    "GrpcCaller",
    "HttpCaller",
    "HttpError",
    "LoadResult",
    "closed_loop",
    "run_async",
    "sequential",
]

_UNLIMITED = -1
T = TypeVar("T")
Call = Callable[[], Awaitable[Any]]


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when installed (the clients' ceiling is higher), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency of the project
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


class GrpcCaller:
    """`await caller()` sends the same pre-serialised unary request on one channel and returns the reply bytes."""

    def __init__(self, target: str, method: str, request: bytes,
                 metadata: tuple[tuple[str, str], ...] | None = None, timeout: float = 60.0):
        self.target = target
        self.channel = grpc.aio.insecure_channel(target, options=[
            ("grpc.max_receive_message_length", _UNLIMITED), ("grpc.max_send_message_length", _UNLIMITED)])
        self._rpc = self.channel.unary_unary(f"/{method}")
        self._request = request
        self._metadata = metadata
        self._timeout = timeout

    async def __call__(self) -> bytes:
        return await self._rpc(self._request, metadata=self._metadata, timeout=self._timeout)

    async def close(self) -> None:
        await self.channel.close()


class HttpError(Exception):
    def __init__(self, status: int, body: bytes):
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class _Connection:
    def __init__(self, host: str, port: int):
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        reused = self._writer is not None and not self._writer.is_closing()
        try:
            return await self._exchange(raw)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            stale = isinstance(exc, ConnectionError) or not exc.partial
            if reused and stale:  # the server closed an idle keep-alive connection: resend once, as clients do
                try:
                    return await self._exchange(raw)
                except BaseException:
                    await self.close()
                    raise
            raise
        except BaseException:
            await self.close()
            raise

    async def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port, limit=2**20)
        reader, writer = self._reader, self._writer
        assert reader is not None
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = -1, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            body = await self._read_chunked(reader)
        elif length >= 0:
            body = await reader.readexactly(length)
        else:
            body, close = await reader.read(), True
        if close:
            await self.close()
        return status, body

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
            self._writer = self._reader = None


class HttpCaller:
    """`await caller()` POSTs (or GETs) pre-built request bytes on a keep-alive connection; 2xx body returned.

    `caller.worker(i)` gives worker i its own connection, so concurrent workers never share one.
    """

    def __init__(self, host: str, port: int, path: str, body: bytes | None,
                 content_type: str = "application/json"):
        self.host, self.port, self.path = host, port, path
        method = "GET" if body is None else "POST"
        head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
        if body is not None:
            head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        self._raw = ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")
        self._connections: dict[int, _Connection] = {}

    def worker(self, index: int) -> Call:
        connection = self._connections.get(index)
        if connection is None:
            connection = self._connections[index] = _Connection(self.host, self.port)

        async def call() -> bytes:
            status, body = await connection.request(self._raw)
            if not 200 <= status < 300:
                raise HttpError(status, body)
            return body

        return call

    async def __call__(self) -> bytes:
        return await self.worker(0)()

    async def raw(self) -> tuple[int, bytes]:
        """Status and body, whatever the status (for error checks)."""
        connection = self._connections.get(0) or self._connections.setdefault(0, _Connection(self.host, self.port))
        return await connection.request(self._raw)

    async def close(self) -> None:
        for connection in self._connections.values():
            await connection.close()
        self._connections.clear()


@dataclass
class LoadResult:
    completed: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    first_error: str | None = None

    @property
    def throughput(self) -> float:
        return self.completed / self.elapsed_s if self.elapsed_s > 0 else 0.0


async def sequential(call: Call, count: int, max_seconds: float) -> LoadResult:
    """Concurrency 1: `count` calls one after another (fewer if `max_seconds` runs out), each one timed."""
    result = LoadResult()
    clock = time.perf_counter
    start = clock()
    deadline = start + max_seconds
    for _ in range(count):
        before = clock()
        try:
            await call()
        except Exception as exc:  # counted, the loop goes on
            result.errors += 1
            result.first_error = result.first_error or repr(exc)
        else:
            result.completed += 1
        after = clock()
        result.latencies_s.append(after - before)
        if after > deadline:
            break
    result.elapsed_s = clock() - start
    return result


async def closed_loop(worker_call: Callable[[int], Call], concurrency: int, seconds: float,
                      max_requests: int) -> LoadResult:
    """`concurrency` workers each sending the next request when the last is answered, for `seconds`
    (or until `max_requests` in all); throughput is completions over the wall time."""
    result = LoadResult()
    clock = time.perf_counter
    budget = [max_requests]
    start = clock()
    deadline = start + seconds

    async def worker(index: int) -> None:
        call = worker_call(index)
        while budget[0] > 0 and clock() < deadline:
            budget[0] -= 1
            before = clock()
            try:
                await call()
            except Exception as exc:
                result.errors += 1
                result.first_error = result.first_error or repr(exc)
            else:
                result.completed += 1
                result.latencies_s.append(clock() - before)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    result.elapsed_s = clock() - start
    return result
