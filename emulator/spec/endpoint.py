"""ServingRuntime endpoint strings: `port:8001`, `unix:/path/sock`, `unix:///path/sock`."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

__all__ = ["Endpoint", "parse_endpoint"]


@dataclass(frozen=True)
class Endpoint:
    """A TCP port on the runtime's host, or a Unix domain socket path (exactly one is set)."""

    port: int | None = None
    socket_path: str | None = None

    @property
    def socket_dir(self) -> str | None:
        """Directory holding the socket (ModelMesh mounts it into every runtime container)."""
        return posixpath.dirname(self.socket_path) if self.socket_path is not None else None


def parse_endpoint(value: str) -> Endpoint:
    """As ModelMesh: `port:N` is TCP; anything else is a socket path (`unix://`, `unix:` removed)."""
    if value.startswith("port:"):
        number = value.removeprefix("port:")
        if not number.isdecimal() or not 0 < int(number) < 65536:
            raise ValueError(f"invalid endpoint {value!r}: expected port:<1-65535> or unix:<socket path>")
        return Endpoint(port=int(number))
    path = value.removeprefix("unix://") if value.startswith("unix://") else value.removeprefix("unix:")
    if not path:
        raise ValueError(f"invalid endpoint {value!r}: empty unix socket path")
    return Endpoint(socket_path=path)
