"""Server-side printing, as the Kubernetes API does it: a `meta.k8s.io/v1` `Table` per list or object.

Priority 0 columns are upstream's CRD printer columns (ModelMesh's and KServe's, same names, JSONPaths and
types; tests check them against ../shared/modelmesh-crds); the emulator's own columns are priority 1 (`-o wide`)
and carry what only it knows: model states, concrete model ids and the runtime instances holding them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..kube.jsonpath import first
from ..kube.resources import Resource

__all__ = ["COLUMNS", "TABLE_MEDIA_TYPE", "human_duration", "table", "wants_table"]

TABLE_MEDIA_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

Row = dict[str, Any]
"""An object as returned by the API, plus `placement` (views.model_placement) for models."""


@dataclass(frozen=True)
class Column:
    name: str
    cell: Callable[[Row], Any]
    priority: int = 0
    type: str = "string"
    description: str = ""


def wants_table(accept: str | None) -> bool:
    return accept is not None and "as=Table" in accept


def human_duration(seconds: float) -> str:
    """Kubernetes' `duration.HumanDuration` (the AGE column)."""
    if seconds < -1:
        return "<invalid>"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if days < 365 * 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def _age(row: Row) -> str:
    stamp = row["metadata"].get("creationTimestamp")
    if not stamp:
        return ""
    created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration((datetime.now(UTC) - created).total_seconds())


_age.jsonpath = ".metadata.creationTimestamp"  # type: ignore[attr-defined]  # a date column, shown as an age


def _path(jsonpath: str) -> Callable[[Row], Any]:
    """A CRD printer column's JSONPath; the first result, as the API server's table convertor shows it."""

    def cell(row: Row) -> Any:
        return first(row, jsonpath)

    cell.jsonpath = jsonpath  # type: ignore[attr-defined]  # what tests compare with the CRDs
    return cell


def _active_model(row: Row) -> str:
    active = row.get("placement", {}).get("active") or {}
    return active.get("modelId", "")


def _copies(field: str) -> Callable[[Row], str]:
    """The distinct `field` values of the active and target models' copies, comma-separated."""

    def get(row: Row) -> str:
        placement = row.get("placement", {})
        copies = [copy for key in ("active", "target") for copy in (placement.get(key) or {}).get("copies", [])]
        return ",".join(dict.fromkeys(copy[field] for copy in copies))

    return get


def _runtime_instances(row: Row) -> str:
    return ",".join(instance["instance"] for instance in row.get("instances", []))


_NAME = Column("Name", _path(".metadata.name"), description="Name must be unique within a namespace.")
_AGE = Column("Age", _age, type="date")
_MODEL_WIDE = (
    Column("Model", _active_model, 1, description="The active concrete model id (emulator)."),
    Column("Runtime", _copies("runtime"), 1, description="Runtime holding the model's copies (emulator)."),
    Column("Instances", _copies("instance"), 1, description="Runtime instances holding copies (emulator)."),
)
_RUNTIME_COLUMNS = (
    _NAME,
    Column("Disabled", _path(".spec.disabled"), type="boolean"),
    Column("ModelType", _path(".spec.supportedModelFormats[*].name")),
    Column("Containers", _path(".spec.containers[*].name")),
    _AGE,
    Column("Instances", _runtime_instances, 1, description="Running instances (emulator)."),
)
_TRAFFIC = ".status.components.predictor.traffic"
COLUMNS: dict[str, tuple[Column, ...]] = {
    "InferenceService": (  # upstream's printer columns; ModelMesh sets no traffic, so four are always blank
        _NAME,
        Column("URL", _path(".status.url")),
        Column("Ready", _path(".status.conditions[?(@.type=='Ready')].status")),
        Column("Prev", _path(f"{_TRAFFIC}[?(@.tag=='prev')].percent"), type="integer"),
        Column("Latest", _path(f"{_TRAFFIC}[?(@.latestRevision==true)].percent"), type="integer"),
        Column("PrevRolledoutRevision", _path(f"{_TRAFFIC}[?(@.tag=='prev')].revisionName")),
        Column("LatestReadyRevision", _path(f"{_TRAFFIC}[?(@.latestRevision==true)].revisionName")),
        _AGE,
        Column("Active", _path(".status.modelStatus.states.activeModelState"), 1,
               description="Active model state (emulator)."),
        Column("Target", _path(".status.modelStatus.states.targetModelState"), 1,
               description="Target model state (emulator)."),
        Column("Transition", _path(".status.modelStatus.transitionStatus"), 1,
               description="Transition status (emulator)."),
        *_MODEL_WIDE,
    ),
    "ServingRuntime": _RUNTIME_COLUMNS,
    "ClusterServingRuntime": _RUNTIME_COLUMNS,
    "Predictor": (
        _NAME,
        Column("Type", _path(".spec.modelType.name")),
        Column("Available", _path(".status.available"), type="boolean"),
        Column("ActiveModel", _path(".status.activeModelState")),
        Column("TargetModel", _path(".status.targetModelState")),
        Column("Transition", _path(".status.transitionStatus")),
        _AGE,
        *_MODEL_WIDE,
    ),
    "Secret": (
        _NAME,
        Column("Type", lambda row: row.get("type") or "Opaque"),
        Column("Data", lambda row: len(row.get("data") or {}), type="integer"),
        _AGE,
    ),
}


def _row_object(row: Row, include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return {key: value for key, value in row.items() if key not in ("placement", "instances")}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": row["metadata"]}


def table(resource: Resource, rows: list[Row], *, resource_version: str = "", include_object: str = "Metadata",
          with_columns: bool = True) -> dict[str, Any]:
    """A Table of `rows`; `include_object` is the request's includeObject (Metadata, Object or None), and a watch
    sends the column definitions with its first event only (`with_columns`)."""
    columns = COLUMNS[resource.kind]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {"name": c.name, "type": c.type, "format": "name" if c is _NAME else "", "description": c.description,
             "priority": c.priority}
            for c in columns
        ] if with_columns else None,
        "rows": [
            {"cells": [column.cell(row) for column in columns], "object": _row_object(row, include_object)}
            for row in rows
        ],
    }
