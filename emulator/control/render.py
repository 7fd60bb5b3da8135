"""Objects as the management API returns them: the manifest, server-set metadata and `status`.

Secret values are never returned: each `data` value reads `<redacted>`. That string is not base64, so
applying a Secret copied from `get -o yaml` fails instead of overwriting real credentials with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..spec import Manifest, StorageConfigSecret, serialize
from .resources import Resource
from .views import object_status

if TYPE_CHECKING:
    from ..app import Emulator

__all__ = ["REDACTED", "list_body", "to_wire"]

REDACTED = "<redacted>"


def to_wire(emulator: Emulator, obj: Manifest) -> dict[str, Any]:
    body = serialize(obj)
    body["metadata"] |= emulator.object_meta.fields(obj)
    if isinstance(obj, StorageConfigSecret):
        body["data"] = dict.fromkeys(obj.entries, REDACTED)
    status = object_status(emulator, obj)
    if status is not None:
        body["status"] = status
    return body


def list_body(resource: Resource, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": resource.api_version, "kind": f"{resource.kind}List", "metadata": {"resourceVersion": ""},
            "items": items}
