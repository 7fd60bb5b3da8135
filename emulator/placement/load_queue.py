"""A runtime instance's loading slots (`maxLoadingConcurrency`), granted in ModelMesh's loading-queue order.

ModelMesh queues loads by priority, highest first: a load a request waits for gets "now + 2 h", a proactive one
(load on apply, background retry, second copy) its model's last-used time; a request that finds its model's load
still queued raises that load to "now + 2 h" (ModelMesh.java CacheEntry.upgradePriority). Equal priorities keep
their arrival order.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runtime_pool import RuntimeHandle

__all__ = ["REQUEST_PRIORITY_S", "LoadQueue", "LoadQueues", "LoadTicket"]

REQUEST_PRIORITY_S = 7200.0
"""How far in the future the priority of a load a request waits for is set."""

_arrivals = itertools.count()


@dataclass(eq=False)
class LoadTicket:
    """One load's place in the queue; `priority` is in epoch seconds."""

    priority: float
    arrival: int = field(default_factory=lambda: next(_arrivals))
    _granted: asyncio.Future[None] | None = field(default=None, repr=False)

    @classmethod
    def for_request(cls) -> LoadTicket:
        return cls(time.time() + REQUEST_PRIORITY_S)

    def upgrade_for_request(self) -> None:
        """A request waits for this load: put it ahead of proactive ones, unless it already is."""
        now = time.time()
        if self.priority < now + REQUEST_PRIORITY_S / 2:
            self.priority = now + REQUEST_PRIORITY_S


class LoadQueue:
    def __init__(self, slots: int):
        self._free = max(1, slots)
        self._waiting: list[LoadTicket] = []

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @asynccontextmanager
    async def slot(self, ticket: LoadTicket) -> AsyncIterator[None]:
        await self._acquire(ticket)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, ticket: LoadTicket) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        ticket._granted = asyncio.get_running_loop().create_future()
        self._waiting.append(ticket)
        try:
            await ticket._granted
        except asyncio.CancelledError:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            elif ticket._granted.done() and not ticket._granted.cancelled():
                self._release()  # granted as it was cancelled: pass the slot on
            raise

    def _release(self) -> None:
        while self._waiting:
            best = max(self._waiting, key=lambda ticket: (ticket.priority, -ticket.arrival))
            self._waiting.remove(best)
            if best._granted is not None and not best._granted.done():  # not cancelled meanwhile
                best._granted.set_result(None)
                return
        self._free += 1


class LoadQueues:
    """One `LoadQueue` per runtime instance, forgotten with the instance."""

    def __init__(self) -> None:
        self._queues: weakref.WeakKeyDictionary[RuntimeHandle, LoadQueue] = weakref.WeakKeyDictionary()

    def of(self, handle: RuntimeHandle) -> LoadQueue:
        queue = self._queues.get(handle)
        if queue is None:
            queue = self._queues[handle] = LoadQueue(handle.status.max_loading_concurrency)
        return queue
