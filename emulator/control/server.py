"""uvicorn serving an ASGI app inside the caller's event loop, on a socket bound up front (port 0 works)."""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.types import ASGIApp

__all__ = ["AsgiServer"]


class AsgiServer:
    def __init__(self, app: ASGIApp, host: str, port: int):
        self._sock = socket.create_server((host, port), reuse_port=False)
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
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
