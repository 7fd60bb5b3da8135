"""The event loop `serve` runs on: uvloop when installed (the `event_loop` setting), else asyncio's own.

uvloop lowers the emulator's CPU time per routed request by about a tenth (docs/benchmarks.md). The policy is
set only while `serve` runs and restored afterwards, so in-process callers keep their own loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections.abc import Iterator

from .errors import UnsupportedError

__all__ = ["event_loop_policy"]


@contextlib.contextmanager
def event_loop_policy(choice: str) -> Iterator[str]:
    """Within the block, `asyncio.run` creates loops of `choice` (`auto`, `uvloop`, `asyncio`); yields the one used."""
    use_uvloop = choice == "uvloop" or (choice == "auto" and importlib.util.find_spec("uvloop") is not None)
    if not use_uvloop:
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
