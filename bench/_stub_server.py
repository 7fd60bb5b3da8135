"""A server that does nothing but answer: the load generator's own ceiling is measured against it.

gRPC: every unary method answers the canned reply bytes. HTTP/1.1: every request (keep-alive) answers
200 with the canned JSON body. Runs on uvloop in its own process; prints `ready` when both listen.

    python bench/_stub_server.py --grpc-port P --http-port Q --grpc-reply FILE --http-reply FILE
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

import grpc

__all__ = ["main"]


class _Canned(grpc.GenericRpcHandler):
    def __init__(self, reply: bytes):
        async def answer(_: bytes, __: grpc.aio.ServicerContext) -> bytes:
            return reply

        self._handler = grpc.unary_unary_rpc_method_handler(answer)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return self._handler


class _HttpStub(asyncio.Protocol):
    def __init__(self, response: bytes):
        self._response = response
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is no subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self._buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            self._buffer = self._buffer[total:]
            assert self._transport is not None
            self._transport.write(self._response)


async def _serve(args: argparse.Namespace) -> None:
    grpc_reply = Path(args.grpc_reply).read_bytes()
    body = Path(args.http_reply).read_bytes()
    response = (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
                .encode() + body)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((_Canned(grpc_reply),))
    server.add_insecure_port(f"127.0.0.1:{args.grpc_port}")
    await server.start()
    loop = asyncio.get_running_loop()
    http = await loop.create_server(lambda: _HttpStub(response), "127.0.0.1", args.http_port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    http.close()
    await server.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-reply", required=True)
    parser.add_argument("--http-reply", required=True)
    args = parser.parse_args()
    import uvloop

    uvloop.run(_serve(args))


if __name__ == "__main__":
    main()
