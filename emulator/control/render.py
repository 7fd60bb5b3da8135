"""Objects as the management API returns them: the manifest, server-set metadata and `status`.

Secret values are never returned: each `data` value is `<redacted>`, base64-encoded as `data` values must be
(`PHJlZGFjdGVkPg==`, so typed clients such as kubectl and the Python client decode it). It is not a storage
entry, so applying a Secret copied from `get -o yaml` fails instead of overwriting real credentials with it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..kube.resources import Resource
from ..spec import Manifest, StorageConfigSecret, serialize
from .context import object_key
from .views import object_status

if TYPE_CHECKING:
    from ..kube.objects import ObjectStamps
    from ..registry import Registry
    from .context import ApiContext

__all__ = ["REDACTED", "REDACTED_DATA", "explain_redacted", "list_body", "stored_body", "to_wire", "track_changes"]

REDACTED = "<redacted>"
REDACTED_DATA = base64.b64encode(REDACTED.encode()).decode("ascii")


def explain_redacted(parse: Callable[[], Any], text: str) -> Any:
    """`parse()`; a SpecError it raises says so when `text` holds the redacted value (a Secret from `get`)."""
    try:
        return parse()
    except SpecError as exc:
        if REDACTED not in text and REDACTED_DATA not in text:
            raise
        raise SpecError(f"{exc.cause} ({REDACTED!r} is what the API shows instead of secret values, base64 "
                        f"{REDACTED_DATA}: apply the real value)", source=exc.source, document=exc.document,
                        field=exc.field, obj=exc.obj) from None


def stored_body(context: ApiContext, obj: Manifest) -> dict[str, Any]:
    """The object with its server-set metadata, Secret values included: what patches apply to. Never returned."""
    body = serialize(obj)
    stamp = context.stamps.stamp(object_key(obj))
    if stamp is not None:
        body["metadata"] = body["metadata"] | stamp.metadata()
    return body


def _shown(obj: Manifest) -> dict[str, Any]:
    """The object as the API shows it, without server metadata and status."""
    body = serialize(obj)
    if isinstance(obj, StorageConfigSecret):
        body["data"] = dict.fromkeys(obj.entries, REDACTED_DATA)
    return body


def track_changes(registry: Registry, stamps: ObjectStamps) -> None:
    """Keep `stamps` (resourceVersion, generation, uid, the watch history) in step with every registry change."""

    def changed(event: str, obj: Manifest) -> None:
        spec = {key: value for key, value in serialize(obj).items() if key != "metadata"}
        stamps.changed(event, object_key(obj), spec, _shown(obj))

    registry.subscribe(changed)


def to_wire(context: ApiContext, obj: Manifest) -> dict[str, Any]:
    status = object_status(context, obj)
    context.stamps.observe(object_key(obj), status)
    body = stored_body(context, obj)
    if isinstance(obj, StorageConfigSecret):
        body["data"] = dict.fromkeys(obj.entries, REDACTED_DATA)
    if status is not None:
        body["status"] = status
    return body


def list_body(resource: Resource, items: list[dict[str, Any]], resource_version: str = "") -> dict[str, Any]:
    return {"apiVersion": resource.api_version, "kind": f"{resource.kind}List",
            "metadata": {"resourceVersion": resource_version}, "items": items}
