"""OpenAPI v3 (`/openapi/v3`, one document per group version) and v2 (`/openapi/v2`), generated from the
pydantic models of the served kinds.

What kubectl reads in them: per kind a schema with `x-kubernetes-group-version-kind` (`kubectl explain`), and a
PATCH operation that takes the `fieldValidation` query parameter (so `kubectl apply` leaves validation to the
server) and lists the patch types the server accepts — for custom resources not strategic merge patch, so that
client-side apply sends a JSON merge patch, as against a cluster.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from .patch import APPLY, JSON_PATCH, MERGE, STRATEGIC
from .resources import Resource

__all__ = ["SchemaSource", "group_version_resources", "openapi_v2", "openapi_v3_document", "openapi_v3_index",
           "resource_paths"]

SchemaSource = Callable[[Resource], type[BaseModel]]
"""The model of a resource's kind."""

_REF = "#/components/schemas/{model}"


def _schema_name(resource: Resource, model: str) -> str:
    group = ".".join(reversed(resource.group.split("."))) if resource.group else "io.k8s.api.core"
    return f"{group}.{resource.version}.{model}"


def _simplify(node: Any) -> Any:
    """pydantic's JSON schema in the shape kubectl's explain reads: `anyOf [X, null]` → X, no titles."""
    if isinstance(node, list):
        return [_simplify(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _simplify(value) for key, value in node.items() if key != "title"}
    options = node.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            node.pop("anyOf")
            node = {**kept[0], **node}
    return node


def _renamed(node: Any, names: dict[str, str]) -> Any:
    """`$ref`s pointing at the component schemas by their qualified names."""
    if isinstance(node, dict):
        return {key: (_REF.format(model=names.get(value, value)) if key == "$ref" else _renamed(value, names))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_renamed(item, names) for item in node]
    return node


def _schemas(resources: Sequence[Resource], model_of: SchemaSource) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for resource in resources:
        model = model_of(resource)
        generated = model.model_json_schema(by_alias=True, ref_template="{model}")
        definitions = generated.pop("$defs", {})
        name = _schema_name(resource, resource.kind)
        renamed = {key: _schema_name(resource, key) for key in definitions}

        for key, definition in definitions.items():
            schemas[renamed[key]] = _simplify(_renamed(definition, renamed))
        top = _simplify(_renamed(generated, renamed))
        top.setdefault("properties", {})
        top["properties"]["status"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                       "description": "Set by the server."}
        top["properties"]["apiVersion"] = {"type": "string", "description": "APIVersion of the object."}
        top["properties"]["kind"] = {"type": "string", "description": "Kind of the object."}
        top["description"] = (model.__doc__ or resource.kind).strip().splitlines()[0]
        top["x-kubernetes-group-version-kind"] = [{"group": resource.group, "version": resource.version,
                                                   "kind": resource.kind}]
        schemas[name] = top
    return schemas


def _parameters() -> list[dict[str, Any]]:
    described = {"dryRun": "When present, do not persist (All).", "fieldManager": "Name of the actor making the "
                 "change.", "fieldValidation": "Ignore, Warn or Strict: what to do with unknown fields.",
                 "force": "Take ownership of conflicting fields (apply patches)."}
    return [{"name": name, "in": "query", "description": text, "schema": {"type": "boolean" if name == "force"
                                                                           else "string"}}
            for name, text in described.items()]


def resource_paths(resource: Resource) -> dict[str, Any]:
    """The OpenAPI paths of a resource served outside `RESOURCES` (kubectl reads fieldValidation support there)."""
    return _paths(resource)


def _paths(resource: Resource) -> dict[str, Any]:
    ref = {"$ref": _REF.format(model=_schema_name(resource, resource.kind))}
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    patch_types = [JSON_PATCH, MERGE, APPLY] + ([STRATEGIC] if not resource.group else [])

    def operation(verb: str, action: str, body_types: list[str] | None = None) -> dict[str, Any]:
        op: dict[str, Any] = {"operationId": f"{verb}{resource.kind}", "x-kubernetes-action": action,
                              "x-kubernetes-group-version-kind": gvk, "parameters": _parameters(),
                              "responses": {"200": {"description": "OK",
                                                    "content": {"application/json": {"schema": ref}}}}}
        if body_types:
            op["requestBody"] = {"content": {media: {"schema": ref} for media in body_types}}
        return op

    item = resource.object_path("{name}", "{namespace}")
    paths = {
        resource.collection_path("{namespace}"): {"post": operation("create", "post", ["application/json"]),
                                                  "get": operation("list", "list")},
        item: {"get": operation("read", "get"), "put": operation("replace", "put", ["application/json"]),
               "patch": operation("patch", "patch", patch_types), "delete": operation("delete", "delete")},
    }
    if resource.status_subresource:
        paths[f"{item}/status"] = {"get": operation("read", "get"), "patch": operation("patch", "patch", patch_types),
                                   "put": operation("replace", "put", ["application/json"])}
    return paths


def _group_version_path(resource: Resource) -> str:
    return f"apis/{resource.group}/{resource.version}" if resource.group else f"api/{resource.version}"


def openapi_v3_document(resources: Sequence[Resource], model_of: SchemaSource) -> dict[str, Any]:
    """The v3 document of one group version (every resource in `resources` belongs to it)."""
    paths: dict[str, Any] = {}
    for resource in resources:
        paths |= _paths(resource)
    return {"openapi": "3.0.0", "info": {"title": "modelmesh-emulator", "version": resources[0].version},
            "paths": paths, "components": {"schemas": _schemas(resources, model_of)}}


def openapi_v3_index(resources: Sequence[Resource], model_of: SchemaSource) -> dict[str, Any]:
    """`/openapi/v3`: where each group version's document is, with a hash of its content."""
    groups: dict[str, list[Resource]] = {}
    for resource in resources:
        groups.setdefault(_group_version_path(resource), []).append(resource)
    index = {}
    for path, members in sorted(groups.items()):
        digest = hashlib.sha256(json.dumps(openapi_v3_document(members, model_of), sort_keys=True).encode())
        index[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest.hexdigest()[:32].upper()}"}
    return {"paths": index}


def group_version_resources(resources: Sequence[Resource], path: str) -> list[Resource]:
    return [r for r in resources if _group_version_path(r) == path]


def openapi_v2(resources: Sequence[Resource], model_of: SchemaSource) -> dict[str, Any]:
    """Swagger 2.0 with the same schemas (`#/definitions/…`); kubectl asks for it only when v3 fails."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for resource in resources:
        paths |= _paths(resource)
        schemas |= _schemas([resource], model_of)
    text = json.dumps({"paths": paths, "definitions": schemas}).replace("#/components/schemas/", "#/definitions/")
    document = json.loads(text)
    for item in document["paths"].values():
        for op in item.values():
            body = op.pop("requestBody", None)
            op.pop("responses", None)
            op["responses"] = {"200": {"description": "OK"}}
            if body:
                op["consumes"] = list(body["content"])
            op["parameters"] = [{"name": p["name"], "in": "query", "type": p["schema"]["type"],
                                 "description": p["description"]} for p in op["parameters"]]
    return {"swagger": "2.0", "info": {"title": "modelmesh-emulator", "version": "v1"}, **document}
