"""ModelMesh's payload processors (`payloadProcessors`, MM_PAYLOAD_PROCESSORS): URIs split on spaces, `logger:` and
`http:` schemes (the emulator adds `https:`), query = model id filter, fragment = method filter (`*` or empty: any).

As upstream's AsyncPayloadProcessor, records wait in a bounded queue (`payload_processors_capacity`) for a few
workers (`payload_processors_threads`); when full they are dropped — counted in the emulator's own metric
`mmemu_payload_records_dropped_total` and logged at most once a minute — so the inference path never waits for a
sink, and a sink's failure is only logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from prometheus_client import CollectorRegistry, Counter

from .payload_records import PayloadRecord, http_body, logger_line

__all__ = ["PayloadProcessor", "PayloadProcessors", "parse_payload_processors"]

log = logging.getLogger(__name__)
payload_log = logging.getLogger("modelmesh.payload")
_SEND_TIMEOUT_S = 10.0  # the emulator's own bound; upstream's HttpClient waits without one
_DROP_LOG_INTERVAL_S = 60.0


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
        self.dropped = Counter("mmemu_payload_records_dropped", "Payload records dropped because the payload "
                               "processors' queue was full (emulator's own)", registry=registry)

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
            self.dropped.inc()
            self._dropped_since_log += 1
            now = time.monotonic()
            if now - self._last_drop_log >= _DROP_LOG_INTERVAL_S:
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
                payload_log.info(logger_line(record, decode=self._decode))
                return
            assert self._client is not None
            response = await self._client.post(processor.target, content=http_body(record, decode=self._decode),
                                               headers={"Content-Type": "application/json"})
            if response.status_code != 200:
                log.warning("Processing %s didn't succeed: %s %d", _short(record), processor.shown,
                            response.status_code)
        except Exception as exc:  # a sink's failure is logged, never raised into the inference path
            log.error("An error occurred while sending payload %s to %s: %s: %s", _short(record), processor.shown,
                      type(exc).__name__, exc)

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


def _short(record: PayloadRecord) -> str:
    return f"Payload{{id='{record.id}', modelId='{record.model_id}', method='{record.method}', kind={record.kind}}}"
