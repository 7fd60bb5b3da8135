"""Whether a Docker daemon answers, and which launchers this emulator has — for skips with a clear reason."""

from __future__ import annotations

import functools
import os
import typing

__all__ = ["docker_unavailable_reason", "launcher_choices"]


def launcher_choices() -> tuple[str, ...]:
    """The values Settings.launcher accepts in this version of the emulator."""
    from ..settings import Settings

    return typing.get_args(Settings.model_fields["launcher"].annotation)


@functools.cache
def docker_unavailable_reason(timeout: float = 3.0) -> str | None:
    """None when a Docker daemon answers a ping; otherwise why not, naming the address tried."""
    import docker

    address = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"no Docker daemon answers at {address} ({cause})"
    return None
