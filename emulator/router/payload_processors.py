"""ModelMesh's payload processors (`payloadProcessors`, MM_PAYLOAD_PROCESSORS): URIs split on spaces, `logger:` and
`http:` schemes (the emulator adds `https:`), query = model id filter, fragment = method filter (`*` or empty: any).

As upstream's AsyncPayloadProcessor, records wait in a bounded queue (`payload_processors_capacity`) for a few
workers (`payload_processors_threads`); when full they are dropped — counted in the emulator's own metric
`mmemu_payload_records_dropped_total{reason="queue_full"}` and logged at most once a minute — so the inference path
never waits for a sink, and a sink's failure is only logged. A sink refusing connections is skipped for a while
(`reason="sink_unreachable"`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from prometheus_client import CollectorRegistry, Counter

from .payload_records import PayloadRecord, http_body, logger_line

__all__ = ["PayloadProcessor", "PayloadProcessors", "parse_payload_processors"]

log = logging.getLogger(__name__)
payload_log = logging.getLogger("modelmesh.payload")
_SEND_TIMEOUT_S = 10.0  # the emulator's own bound; upstream's HttpClient waits without one
_DROP_LOG_INTERVAL_S = 60.0
_MAX_BACKOFF_S = 30.0
_OFFLOAD_BYTES = 64 * 1024
T = TypeVar("T")


@dataclass(frozen=True)
class PayloadProcessor:
    uri: str
    scheme: str
    model_id: str | None
    method: str | None

    @property
    def target(self) -> str:
        """Where an http(s) processor POSTs: the URI without its fragment (the method filter)."""
        parts = urlsplit(self.uri)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))

    @property
    def shown(self) -> str:
        """The target for logs: without user and password."""
        parts = urlsplit(self.uri)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def matches(self, record: PayloadRecord) -> bool:
        return (self.method is None or self.method == record.method) and (
            self.model_id is None or self.model_id == record.model_id)


def _filter(value: str, *, strip_slash: bool) -> str | None:
    if strip_slash:
        value = value.replace("/", "", 1)
    return None if value in ("", "*") else value


def parse_payload_processors(definitions: str) -> list[PayloadProcessor]:
    processors = []
    for definition in definitions.split(" "):
        if not definition:
            continue
        try:
            parts = urlsplit(definition)
        except ValueError as exc:
            log.error("Unable to parse PayloadProcessor URI definition: %s", exc)
            continue
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https", "logger"):
            log.warning("payload processor %r skipped: ModelMesh recognises only the schemes http and logger "
                        "(the emulator also https)", definition)
            continue
        if scheme == "https":
            log.info("payload processor %r: https is the emulator's addition, ModelMesh skips it", definition)
        processors.append(PayloadProcessor(definition, scheme, _filter(parts.query, strip_slash=True),
                                           _filter(parts.fragment, strip_slash=False)))
        log.info("Added PayloadProcessor %s", "logger" if scheme == "logger" else "remote")
    return processors


class PayloadProcessors:
    """Takes each call's records without waiting and hands them to the processors on worker tasks."""

    def __init__(self, processors: Sequence[PayloadProcessor], *, capacity: int, workers: int, decode: bool,
                 registry: CollectorRegistry | None = None):
        self._processors = list(processors)
        self._capacity = capacity
        self._workers = workers
        self._decode = decode
        self._queue: asyncio.Queue[PayloadRecord] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._ids = itertools.count(1)
        self._dropped_since_log = 0
        self._last_drop_log = 0.0
        self._failure_log: dict[str, tuple[float, int]] = {}  # processor uri -> (last logged, failures since)
        self._down: dict[str, tuple[float, float]] = {}  # processor uri -> (skipped until, back-off seconds)
        self.dropped = Counter("mmemu_payload_records_dropped", "Payload records not sent: queue_full (the "
                               "processors' queue was full) or sink_unreachable (sink backing off after a refused "
                               "connection); emulator's own", ["reason"], registry=registry)

    def new_id(self) -> str:
        return f"{threading.get_native_id()}-{next(self._ids)}"

    def submit(self, record: PayloadRecord) -> None:
        """Queue `record` for the processors; never blocks or raises (a full queue drops it)."""
        if self._queue is None:
            self._start()
        assert self._queue is not None
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped.labels("queue_full").inc()
            self._dropped_since_log += 1
            now = time.monotonic()
            if now - self._last_drop_log >= _DROP_LOG_INTERVAL_S or self._last_drop_log == 0.0:
                log.warning("%d payloads were dropped because of %d capacity limit in the last 1 MINUTES",
                            self._dropped_since_log, self._capacity)
                self._dropped_since_log, self._last_drop_log = 0, now

    def _start(self) -> None:
        self._queue = asyncio.Queue(maxsize=self._capacity)
        if any(p.scheme != "logger" for p in self._processors):
            self._client = httpx.AsyncClient(timeout=_SEND_TIMEOUT_S)
        self._tasks = [asyncio.create_task(self._work(), name=f"payload-processor-{n}")
                       for n in range(self._workers)]

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            record = await self._queue.get()
            for processor in self._processors:
                if processor.matches(record):
                    await self._process(processor, record)

    async def _process(self, processor: PayloadProcessor, record: PayloadRecord) -> None:
        try:
            if processor.scheme == "logger":
                payload_log.info(await _off_loop(record, logger_line, self._decode))
                return
            assert self._client is not None
            if self._unreachable(processor):
                self.dropped.labels("sink_unreachable").inc()
                return
            try:
                response = await self._client.post(processor.target,
                                                   content=await _off_loop(record, http_body, self._decode),
                                                   headers={"Content-Type": "application/json"})
            except (httpx.ConnectError, httpx.ConnectTimeout):
                self._back_off(processor)
                raise
            self._down.pop(processor.uri, None)
            if response.status_code != 200:
                self._failed(processor, f"Processing {_short(record)} didn't succeed: {processor.shown} "
                                        f"{response.status_code}")
        except Exception as exc:  # a sink's failure is logged, never raised into the inference path
            self._failed(processor, f"An error occurred while sending payload {_short(record)} to {processor.shown}: "
                                    f"{type(exc).__name__}: {exc}")

    def _unreachable(self, processor: PayloadProcessor) -> bool:
        down = self._down.get(processor.uri)
        return down is not None and time.monotonic() < down[0]

    def _back_off(self, processor: PayloadProcessor) -> None:
        """A sink that refused a connection gets no records for 1 s, doubling up to 30 s while it keeps refusing:
        the emulator's own (ModelMesh tries each record), so a dead sink costs the serving process nothing."""
        _, previous = self._down.get(processor.uri, (0.0, 0.0))
        backoff = min(previous * 2 or 1.0, _MAX_BACKOFF_S)
        self._down[processor.uri] = (time.monotonic() + backoff, backoff)

    def _failed(self, processor: PayloadProcessor, message: str) -> None:
        """Log a failed send; after the first, at most one line a minute per processor (the emulator's own limit:
        ModelMesh logs each, which for a dead sink costs the serving process more than the sends)."""
        now = time.monotonic()
        last, suppressed = self._failure_log.get(processor.uri, (-_DROP_LOG_INTERVAL_S, 0))
        if now - last < _DROP_LOG_INTERVAL_S:
            self._failure_log[processor.uri] = (last, suppressed + 1)
            return
        more = f" ({suppressed} more failed sends to it in the last minute not logged)" if suppressed else ""
        log.error("%s%s", message, more)
        self._failure_log[processor.uri] = (now, 0)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._queue = None


async def _off_loop(record: PayloadRecord, render: Callable[..., T], decode: bool) -> T:
    """`render(record)`, on a worker thread for a large message (base64 and JSON of MiBs would stall the loop)."""
    if record.data is not None and len(record.data) > _OFFLOAD_BYTES:
        return await asyncio.to_thread(render, record, decode=decode)
    return render(record, decode=decode)


def _short(record: PayloadRecord) -> str:
    return f"Payload{{id='{record.id}', modelId='{record.model_id}', method='{record.method}', kind={record.kind}}}"
