"""Turn a ModelKey plus the storage-config entries into one concrete storage entry (puller.go semantics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import StorageError
from ..spec import StorageLocation

__all__ = ["EMBEDDED_STORAGE_CONFIG", "ResolvedStorage", "display_url", "resolve_storage"]

# The quickstart's `localMinIO` entry without an endpoint: with no S3 endpoint the s3 provider reads the
# bucket from the local S3 stand-in directory, so upstream InferenceService YAML works unchanged.
EMBEDDED_STORAGE_CONFIG: dict[str, dict[str, Any]] = {
    "localMinIO": {"type": "s3", "bucket": "modelmesh-example-models", "region": "us-south"},
}


@dataclass(frozen=True)
class ResolvedStorage:
    storage_key: str | None
    entry: dict[str, Any]
    model_path: str
    schema_path: str | None
    pvc_claims: frozenset[str] = field(default=frozenset())
    """Claims named by the storage-config's `pvc` entries: those ModelMesh mounts into runtime pods."""
    model_parameters: frozenset[str] = field(default=frozenset())
    """Entry fields set by the model (storage.parameters, storageUri, s3.bucket) rather than the storage-config."""

    def origin(self, name: str) -> str:
        """Where entry field `name` came from, for messages naming a field."""
        if name in self.model_parameters:
            return "the model's storage parameters or storageUri"
        return f"storage-config entry {self.storage_key!r}" if self.storage_key else "the default storage entry"

    @property
    def type(self) -> str:
        return str(self.entry["type"])

    def describe(self) -> str:
        """Where the model comes from, for error messages; never includes credentials."""
        parts = [f"storage key {self.storage_key!r}" if self.storage_key else "default storage"]
        url = self.entry.get("url")
        location = self.entry.get("bucket") or self.entry.get("name") or (display_url(url) if url else None)
        if location and self.model_path:
            parts.append(f"{location}/{self.model_path}")
        elif location:
            parts.append(str(location))
        else:
            parts.append(f"path {self.model_path!r}")
        return ", ".join(parts)


def display_url(url: object) -> str:
    """A URL fit for messages: no user info, and query values (which may be tokens) hidden."""
    parts = urlsplit(str(url))
    host = parts.netloc.rpartition("@")[2]
    query = "&".join(f"{item.partition('=')[0]}=..." for item in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def resolve_storage(location: StorageLocation, config: dict[str, dict[str, Any]]) -> ResolvedStorage:
    storage_key = location.storage_key
    params = location.storage_params or {}
    if storage_key is None:
        default_name = f"default_{params['type']}" if "type" in params else "default"
        entry = dict(config.get(default_name, {}))
        if entry:
            storage_key = default_name
    else:
        if storage_key not in config:
            raise StorageError(
                f"Did not find storage config for key {storage_key}: Storage secretKey not found: "
                f"{storage_key} (keys: {', '.join(sorted(config)) or 'none'})"
            )
        entry = dict(config[storage_key])
    if "default_bucket" in entry and "bucket" not in entry:
        entry["bucket"] = entry["default_bucket"]
    for dotted, value in params.items():
        _set_dotted(entry, dotted, value)
    if not entry.get("type"):
        raise StorageError("Predictor Storage field missing")
    return ResolvedStorage(
        storage_key=storage_key,
        entry=entry,
        model_path=(location.path or "").lstrip("/"),
        schema_path=location.schema_path.lstrip("/") if location.schema_path else None,
        pvc_claims=frozenset(
            str(e["name"]) for e in config.values() if e.get("type") == "pvc" and isinstance(e.get("name"), str)
        ),
        model_parameters=frozenset(params),
    )


def _set_dotted(entry: dict[str, Any], dotted: str, value: str) -> None:
    *parents, leaf = dotted.split(".")
    node = entry
    for name in parents:
        child = node.setdefault(name, {})
        if not isinstance(child, dict):
            raise StorageError(f"storage parameter {dotted!r} would overwrite a non-object value")
        node = child
    if leaf in node and not isinstance(node[leaf], str):
        raise StorageError(f"storage parameter {dotted!r} may only overwrite a string value")
    node[leaf] = value
