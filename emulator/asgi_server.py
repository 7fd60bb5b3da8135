"""uvicorn serving an ASGI app inside the caller's event loop, on a socket bound up front (port 0 works)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

__all__ = ["AsgiServer"]


def _listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket created with proto IPPROTO_TCP.

    asyncio sets TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP, and `socket.create_server` leaves
    proto 0: without Nagle disabled, uvicorn's two writes per response (head, then body) wait for the client's
    delayed ACK on a keep-alive connection, ~40 ms per request.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # as socket.create_server
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:  # the address in the message, as socket.create_server puts it
            raise OSError(exc.errno, f"error while attempting to bind on address {(host, port)!r}: "
                                     f"{(exc.strerror or str(exc)).lower()}") from None
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return sock


class AsgiServer:
    def __init__(self, app: ASGIApp, host: str, port: int, *, tls: tuple[Path, Path] | None = None):
        """`tls` is (certificate file, key file) to serve HTTPS."""
        self._sock = _listening_socket(host, port)
        self.port: int = self._sock.getsockname()[1]
        files = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls is not None else {}
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, **files)
        config.load()
        self._server = uvicorn.Server(config)
        self._server.lifespan = config.lifespan_class(config)
        self._main_loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._server.startup(sockets=[self._sock])
        self._main_loop = asyncio.create_task(self._server.main_loop())

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._main_loop is not None:
            await self._main_loop
        await self._server.shutdown(sockets=[self._sock])
        self._sock.close()
