"""The least a grpc.aio proxy can do: every unary call forwarded as raw bytes to one target, nothing else.

No routing, no model id, no metadata, no metrics: bench/router_overhead.py measures it beside the emulator, so
the emulator's CPU per request splits into what any grpc.aio hop costs and what its own routing adds. Same
server and channel options as the emulator's gRPC router; asyncio's loop, as the emulator's default.

    python bench/_bare_proxy.py --port P --target HOST:PORT     (prints `ready` when listening)
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import grpc

__all__ = ["main"]

_UNLIMITED = -1


class _Forward(grpc.GenericRpcHandler):
    def __init__(self, channel: grpc.aio.Channel):
        self._channel = channel
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is None:
            rpc = self._channel.unary_unary(method, _registered_method=True)

            async def forward(request: bytes, _: grpc.aio.ServicerContext) -> bytes:
                return await rpc(request)

            handler = self._handlers[method] = grpc.unary_unary_rpc_method_handler(forward)
        return handler


async def _serve(args: argparse.Namespace) -> None:
    options = [("grpc.max_receive_message_length", _UNLIMITED), ("grpc.max_send_message_length", _UNLIMITED)]
    channel = grpc.aio.insecure_channel(args.target, options=options)
    server = grpc.aio.server(options=[*options, ("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((_Forward(channel),))
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await server.stop(0)
    await channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True)
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
