"""Kubernetes Events the emulator records about its decisions (the emulator's addition: upstream ModelMesh emits
none): which runtime a model got, loads, failures, evictions, churn refusals, runtime instances starting,
becoming ready and exiting.

A bounded store, as the API server keeps events: at most `max_events`, each dropped `ttl_s` after its last
occurrence (the API server's `--event-ttl` default is 1 h). Repeats are aggregated as client-go's event
correlator does it: an event with the same involved object, type, reason and message as a stored one raises
that one's `count` and `lastTimestamp` instead of adding another.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["COMPONENT", "EventRecorder", "InvolvedObject", "RecordedEvent"]

COMPONENT = "modelmesh-emulator"
_MAX_EVENTS = 1000
_TTL_S = 3600.0
_MESSAGE_LIMIT = 1024
"""The API server truncates nothing, but client-go's recorder caps a message at 1024 characters."""


@dataclass(frozen=True)
class InvolvedObject:
    kind: str
    namespace: str | None
    name: str
    uid: str = ""


@dataclass
class RecordedEvent:
    name: str
    involved: InvolvedObject
    type: str
    """Normal or Warning."""
    reason: str
    message: str
    first: float
    last: float
    resource_version: int
    count: int = 1
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def namespace(self) -> str:
        """Events of cluster-scoped objects live in `default`, as the API server's recorder puts them."""
        return self.involved.namespace or "default"


class EventRecorder:
    def __init__(self, *, max_events: int = _MAX_EVENTS, ttl_s: float = _TTL_S,
                 uid_of: Callable[[str, str | None, str], str | None] | None = None):
        self._events: OrderedDict[tuple, RecordedEvent] = OrderedDict()
        """By correlation key, least recently seen first."""
        self._max_events = max_events
        self._ttl_s = ttl_s
        self._revision = 0
        self.uid_of = uid_of
        """(kind, namespace, name) → the object's uid now, so `describe`'s involvedObject.uid selector finds it."""

    @property
    def revision(self) -> int:
        return self._revision

    def record(self, kind: str, namespace: str | None, name: str, reason: str, message: str, *,
               warning: bool = False) -> RecordedEvent:
        uid = (self.uid_of(kind, namespace, name) if self.uid_of else None) or ""
        involved = InvolvedObject(kind, namespace, name, uid)
        event_type = "Warning" if warning else "Normal"
        message = message[:_MESSAGE_LIMIT]
        key = (involved, event_type, reason, message)
        now = time.time()
        self._revision += 1
        event = self._events.pop(key, None)
        if event is not None:
            event.count, event.last, event.resource_version = event.count + 1, now, self._revision
        else:
            # The API server's recorder names an event `<object>.<hex timestamp>`; the suffix only has to be unique.
            event = RecordedEvent(f"{name}.{secrets.token_hex(8)}", involved, event_type, reason, message, now, now,
                                  self._revision)
        self._events[key] = event
        self._prune(now)
        return event

    def _prune(self, now: float) -> None:
        while self._events:
            oldest = next(iter(self._events.values()))
            if len(self._events) <= self._max_events and now - oldest.last <= self._ttl_s:
                return
            self._events.popitem(last=False)

    def events(self) -> list[RecordedEvent]:
        """The stored events, oldest occurrence first."""
        self._prune(time.time())
        return list(self._events.values())

    def changes_after(self, resource_version: int) -> list[RecordedEvent]:
        """Events recorded or repeated after `resource_version`, in resourceVersion order."""
        return sorted((e for e in self.events() if e.resource_version > resource_version),
                      key=lambda e: e.resource_version)
