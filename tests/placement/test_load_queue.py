"""ModelMesh's loading queue: loads a request waits for go before proactive ones, proactive ones by last use."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from emulator.placement.load_queue import LoadQueue, LoadTicket


async def run_in_queue(queue: LoadQueue, tickets: dict[str, LoadTicket], order: list[str],
                       before_release: Callable[[], None] = lambda: None) -> None:
    """Take the only slot with a first load, queue the others behind it, then let the first finish."""
    hold = asyncio.Event()

    async def load(name: str, ticket: LoadTicket) -> None:
        async with queue.slot(ticket):
            order.append(name)
            if name == "first":
                await hold.wait()

    first = asyncio.create_task(load("first", LoadTicket(0.0)))
    await asyncio.sleep(0)
    others = [asyncio.create_task(load(name, ticket)) for name, ticket in tickets.items()]
    while queue.waiting < len(others):
        await asyncio.sleep(0)
    before_release()
    hold.set()
    await asyncio.gather(first, *others)


async def test_a_load_a_request_waits_for_goes_first_then_the_most_recently_used() -> None:
    now, order = time.time(), []
    tickets = {"applied-old": LoadTicket(now - 7200), "requested": LoadTicket.for_request(),
               "applied-recent": LoadTicket(now - 3600), "applied-same-age": LoadTicket(now - 3600)}

    await run_in_queue(LoadQueue(1), tickets, order)

    assert order == ["first", "requested", "applied-recent", "applied-same-age", "applied-old"]


async def test_a_request_for_a_queued_proactive_load_moves_it_ahead() -> None:
    now, order = time.time(), []
    tickets = {name: LoadTicket(now - 3600) for name in ("b", "c", "d")}

    await run_in_queue(LoadQueue(1), tickets, order, before_release=tickets["d"].upgrade_for_request)

    assert order == ["first", "d", "b", "c"]


async def test_a_cancelled_waiter_gives_up_its_place_and_slots_are_not_lost() -> None:
    queue, hold, order = LoadQueue(1), asyncio.Event(), []

    async def load(name: str) -> None:
        async with queue.slot(LoadTicket(time.time())):
            order.append(name)
            if name == "first":
                await hold.wait()

    first = asyncio.create_task(load("first"))
    await asyncio.sleep(0)
    cancelled, last = asyncio.create_task(load("cancelled")), asyncio.create_task(load("last"))
    while queue.waiting < 2:
        await asyncio.sleep(0)
    cancelled.cancel()
    hold.set()
    await asyncio.gather(first, last)
    async with asyncio.timeout(5):  # the slot is free again
        await load("after")

    assert cancelled.cancelled()
    assert order == ["first", "last", "after"]
