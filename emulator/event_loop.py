"""The event loop `serve` runs on: uvloop or asyncio's own (the `event_loop` setting).

uvloop starts runtime processes with a plain fork(), where asyncio's loop uses vfork/posix_spawn. A fork() runs
gRPC core's fork handlers, and with gRPC threads busy (a request arriving while its runtime starts) the child can
crash before it execs. So uvloop is used only when gRPC's fork support is off in the environment
(GRPC_ENABLE_FORK_SUPPORT=false, read by gRPC when it is first imported): `auto` then picks it, and asking for
`uvloop` without it is an error. The policy is set only while `serve` runs and restored afterwards, so in-process
callers keep their own loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
from collections.abc import Iterator

from .errors import UnsupportedError

__all__ = ["event_loop_policy", "grpc_fork_support_off"]


def grpc_fork_support_off() -> bool:
    return os.environ.get("GRPC_ENABLE_FORK_SUPPORT", "").strip().lower() in ("0", "false", "no", "off")


@contextlib.contextmanager
def event_loop_policy(choice: str) -> Iterator[str]:
    """Within the block, `asyncio.run` creates loops of `choice` (`auto`, `uvloop`, `asyncio`); yields the one used."""
    installed = importlib.util.find_spec("uvloop") is not None
    if choice == "uvloop" and not grpc_fork_support_off():
        raise UnsupportedError("event_loop 'uvloop' needs GRPC_ENABLE_FORK_SUPPORT=false in the environment "
                               "(uvloop forks runtime processes, and gRPC's fork handlers can crash them)")
    if choice == "asyncio" or (choice == "auto" and not (installed and grpc_fork_support_off())):
        yield "asyncio"
        return
    try:
        import uvloop
    except ImportError:
        raise UnsupportedError("event_loop is 'uvloop' but uvloop is not installed (pip install uvloop)") from None
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        yield "uvloop"
    finally:
        asyncio.set_event_loop_policy(previous)
