"""Objects as the management API returns them: the manifest, server-set metadata and `status`.

Secret values are never returned: each `data` value reads `<redacted>`. That string is not base64, so
applying a Secret copied from `get -o yaml` fails instead of overwriting real credentials with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kube.resources import Resource
from ..spec import Manifest, StorageConfigSecret, serialize
from .context import object_key
from .views import object_status

if TYPE_CHECKING:
    from .context import ApiContext

__all__ = ["REDACTED", "list_body", "stored_body", "to_wire"]

REDACTED = "<redacted>"


def stored_body(context: ApiContext, obj: Manifest) -> dict[str, Any]:
    """The object with its server-set metadata, Secret values included: what patches apply to. Never returned."""
    body = serialize(obj)
    stamp = context.stamps.stamp(object_key(obj))
    if stamp is not None:
        body["metadata"] = body["metadata"] | stamp.metadata()
    return body


def to_wire(context: ApiContext, obj: Manifest) -> dict[str, Any]:
    status = object_status(context, obj)
    context.stamps.observe(object_key(obj), status)
    body = stored_body(context, obj)
    if isinstance(obj, StorageConfigSecret):
        body["data"] = dict.fromkeys(obj.entries, REDACTED)
    if status is not None:
        body["status"] = status
    return body


def list_body(resource: Resource, items: list[dict[str, Any]], resource_version: str = "") -> dict[str, Any]:
    return {"apiVersion": resource.api_version, "kind": f"{resource.kind}List",
            "metadata": {"resourceVersion": resource_version}, "items": items}
