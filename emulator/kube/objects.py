"""What the API server adds to an object's metadata: uid, creationTimestamp, resourceVersion, generation and
managedFields, kept per object while it exists.

`resourceVersion` is one counter for every object (as etcd's revision): each change takes the next value, and so
does each status change, noticed when the object is next rendered (`observe`), so a watch sees `Loading` →
`Loaded` as MODIFIED events. `generation` starts at 1 and grows when anything outside metadata (and status)
changes.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Change", "ObjectKey", "ObjectStamps", "Stamp", "fields_v1", "now_rfc3339"]

ObjectKey = tuple[str, str | None, str]
"""(kind, namespace, name); namespace None for cluster-scoped kinds."""


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def fields_v1(body: dict[str, Any]) -> dict[str, Any]:
    """The `fieldsV1` set of the fields a body sets (lists counted as one field), as managedFields record them."""
    def walk(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            return {}
        return {f"f:{key}": walk(item) for key, item in value.items()}

    top = {key: value for key, value in body.items() if key not in ("apiVersion", "kind", "status")}
    metadata = top.pop("metadata", {}) or {}
    kept = {key: metadata[key] for key in ("labels", "annotations") if metadata.get(key)}
    return walk(top | ({"metadata": kept} if kept else {}))


@dataclass(frozen=True)
class Change:
    """One write, as watches replay it: the object as it was then (server metadata included, no status)."""

    resource_version: int
    event: str
    """added, modified or deleted (the registry's words)."""
    key: ObjectKey
    body: dict[str, Any]


_HISTORY = 2000


@dataclass
class Stamp:
    spec_digest: str
    resource_version: int
    created_version: int = 0
    """The resourceVersion the object was created at (a watch from an older one sees it ADDED)."""
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: str = field(default_factory=now_rfc3339)
    generation: int = 1
    status_digest: str | None = None
    managed_fields: list[dict[str, Any]] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"creationTimestamp": self.created, "generation": self.generation,
                                "resourceVersion": str(self.resource_version), "uid": self.uid}
        if self.managed_fields:
            meta["managedFields"] = self.managed_fields
        return meta


class ObjectStamps:
    """Call `changed` after each registry change; `stamp` gives an object's server-set metadata."""

    def __init__(self) -> None:
        self._stamps: dict[ObjectKey, Stamp] = {}
        self._revision = 0
        self._history: deque[Change] = deque(maxlen=_HISTORY)

    @property
    def revision(self) -> int:
        """The newest resourceVersion handed out: a list's resourceVersion."""
        return self._revision

    def _next(self) -> int:
        self._revision += 1
        return self._revision

    def changed(self, event: str, key: ObjectKey, spec: dict[str, Any], body: dict[str, Any]) -> None:
        """`event` is the registry's (added, modified, deleted); `spec` the object without metadata and status
        (what generation follows), `body` the object as the API may show it (recorded for watches)."""
        digest = _digest(spec)
        stamp = self._stamps.get(key)
        version = self._next()
        if stamp is None:
            stamp = self._stamps[key] = Stamp(digest, version, created_version=version)
        else:
            stamp.resource_version = version
            if event != "deleted" and digest != stamp.spec_digest:
                stamp.spec_digest = digest
                stamp.generation += 1
        body = body | {"metadata": (body.get("metadata") or {}) | stamp.metadata()}
        self._history.append(Change(version, event, key, body))
        if event == "deleted":
            del self._stamps[key]

    def expired(self, resource_version: int) -> bool:
        """Whether writes after `resource_version` were already dropped from the history (a watch from it is 410)."""
        return bool(self._history) and len(self._history) == self._history.maxlen \
            and resource_version < self._history[0].resource_version - 1

    def changes_after(self, resource_version: int) -> Iterator[Change]:
        """The recorded writes newer than `resource_version`, oldest first (the last 2000 are kept)."""
        return (change for change in list(self._history) if change.resource_version > resource_version)

    def stamp(self, key: ObjectKey) -> Stamp | None:
        return self._stamps.get(key)

    def observe(self, key: ObjectKey, status: Any) -> None:
        """The object's status as now rendered: a new resourceVersion when it differs from the last one seen."""
        stamp = self._stamps.get(key)
        if stamp is None:
            return
        digest = _digest(status)
        if stamp.status_digest is not None and digest != stamp.status_digest:
            stamp.resource_version = self._next()
        stamp.status_digest = digest

    def record_manager(self, key: ObjectKey, *, manager: str, operation: str, api_version: str,
                       body: dict[str, Any]) -> None:
        """Remember that `manager` set the fields of `body` (one managedFields entry per manager and operation)."""
        stamp = self._stamps.get(key)
        if stamp is None:
            return
        entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now_rfc3339(),
                 "fieldsType": "FieldsV1", "fieldsV1": fields_v1(body)}
        kept = [e for e in stamp.managed_fields if (e["manager"], e["operation"]) != (manager, operation)]
        stamp.managed_fields = [*kept, entry]
