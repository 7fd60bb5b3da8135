"""What the API server adds to an object's metadata: `creationTimestamp` and `uid`, kept per object."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..spec import Manifest

__all__ = ["ObjectKey", "ObjectMeta", "object_key"]

ObjectKey = tuple[str, str | None, str]
"""(kind, namespace, name); namespace None for cluster-scoped kinds."""


def object_key(obj: Manifest) -> ObjectKey:
    return obj.kind, obj.metadata.namespace, obj.metadata.name


@dataclass(frozen=True)
class _Stamp:
    created: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))


class ObjectMeta:
    """Subscribe `on_change` to the registry; an object keeps its stamp until it is deleted."""

    def __init__(self) -> None:
        self._stamps: dict[ObjectKey, _Stamp] = {}

    def on_change(self, event: str, obj: Manifest) -> None:
        key = object_key(obj)
        if event == "deleted":
            self._stamps.pop(key, None)
        else:
            self._stamps.setdefault(key, _Stamp())

    def created(self, obj: Manifest) -> datetime | None:
        stamp = self._stamps.get(object_key(obj))
        return stamp.created if stamp is not None else None

    def fields(self, obj: Manifest) -> dict[str, Any]:
        stamp = self._stamps.get(object_key(obj))
        if stamp is None:
            return {}
        return {"creationTimestamp": stamp.created.strftime("%Y-%m-%dT%H:%M:%SZ"), "uid": stamp.uid}
