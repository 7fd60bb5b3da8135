"""What the management API needs from the running emulator, and nothing more (no import of `app.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..kube.objects import ObjectKey, ObjectStamps

if TYPE_CHECKING:
    from ..events import EventRecorder
    from ..placement.placement import Placement
    from ..placement.runtime_pool import RuntimePool
    from ..registry import Registry
    from ..settings import Settings
    from ..spec import Manifest
    from .manifests import ManifestSync

__all__ = ["ApiContext", "object_key"]


class ApiContext(Protocol):
    settings: Settings
    registry: Registry
    placement: Placement
    pool: RuntimePool
    manifests: ManifestSync
    stamps: ObjectStamps
    events: EventRecorder

    @property
    def grpc_url(self) -> str: ...

    @property
    def rest_url(self) -> str | None: ...

    @property
    def api_url(self) -> str | None: ...

    @property
    def launcher_name(self) -> str: ...


def object_key(obj: Manifest) -> ObjectKey:
    return obj.kind, obj.metadata.namespace, obj.metadata.name
