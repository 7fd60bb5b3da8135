"""Manifests back to their camelCase YAML/JSON form (for `get -o yaml`)."""

from __future__ import annotations

import base64
import json
from typing import Any

from .kinds import Manifest
from .secret import StorageConfigSecret

__all__ = ["serialize"]


def serialize(obj: Manifest) -> dict[str, Any]:
    """The manifest as written (fields that were set), with apiVersion, kind and metadata first."""
    head = {
        "apiVersion": obj.api_version,
        "kind": obj.kind,
        "metadata": obj.metadata.model_dump(mode="json", by_alias=True, exclude_unset=True),
    }
    if isinstance(obj, StorageConfigSecret):
        return head | _secret_body(obj)
    body = obj.model_dump(
        mode="json", by_alias=True, exclude_unset=True, exclude={"api_version", "kind", "metadata"}
    )
    return head | body


def _secret_body(secret: StorageConfigSecret) -> dict[str, Any]:
    body: dict[str, Any] = {"type": secret.type} if secret.type is not None else {}
    body["data"] = {
        key: base64.b64encode(json.dumps(entry).encode("utf-8")).decode("ascii")
        for key, entry in secret.entries.items()
    }
    return body
