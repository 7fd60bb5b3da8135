"""The `model-serving-config` ConfigMap (core v1 `configmaps`), as the controller reads it from its namespace:
create, get, list, replace, patch and delete it with kubectl (`kubectl apply -f`, `kubectl create configmap
--from-file`); its `config.yaml` changes the running emulator's settings (emulator/serving_config.py). It is the
only ConfigMap the emulator reads, so it is the only one it takes; it is kept in memory for the run.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..errors import InvalidArgumentError, SpecError
from ..kube.objects import now_rfc3339
from ..kube.patch import PatchError, apply_patch
from ..kube.resources import Resource
from ..placement.runtime_pool import runtime_key
from ..serving_config import CONFIG_KEY, CONFIGMAP_NAME, explicit_settings, parse_serving_config
from .kube_status import AlreadyExistsError, NotFoundError, success
from .request_body import decode_body, media_type
from .tables import TABLE_MEDIA_TYPE, human_duration, wants_table

if TYPE_CHECKING:
    from .context import ApiContext

__all__ = ["CONFIGMAP_RESOURCE", "CONFIGMAP_SCHEMAS", "add_configmap_routes"]

CONFIGMAP_RESOURCE = Resource("ConfigMap", "configmaps", "", "v1", True, ("cm",))

CONFIGMAP_SCHEMAS = {  # what kubectl apply's client-side validation looks up in /openapi/v3/api/v1
    "io.k8s.api.core.v1.ConfigMap": {
        "type": "object", "description": "ConfigMap holds configuration data for pods to consume.",
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "metadata": {"$ref": "#/components/schemas/io.k8s.api.core.v1.ObjectMeta"},
                       "data": {"type": "object", "additionalProperties": {"type": "string"}},
                       "binaryData": {"type": "object", "additionalProperties": {"type": "string", "format": "byte"}},
                       "immutable": {"type": "boolean"}},
        "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "ConfigMap"}]},
}

log = logging.getLogger(__name__)


def _age(created: str) -> str:
    stamp = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration((datetime.now(UTC) - stamp).total_seconds())


class _ServingConfigMap:
    def __init__(self, context: ApiContext):
        self._context = context
        self._body: dict[str, Any] | None = None
        self._version = 0
        self._explicit = explicit_settings(context.settings)
        self._defaults: dict[str, Any] = {}
        """The settings as they were before the ConfigMap changed them (restored when it is deleted)."""

    @property
    def _namespace(self) -> str:
        return self._context.settings.namespace

    def _check_place(self, request: Request, name: str | None) -> None:
        namespace = request.path_params["namespace"]
        if (name is not None and name != CONFIGMAP_NAME) or namespace != self._namespace:
            raise SpecError(f'the emulator reads only the ConfigMap "{CONFIGMAP_NAME}" in namespace '
                            f'"{self._namespace}" (the controller\'s), not "{name}" in "{namespace}"')

    def _listed(self, request: Request) -> list[dict[str, Any]]:
        namespace = request.path_params.get("namespace")
        return [self._body] if self._body is not None and namespace in (None, self._namespace) else []

    def _table(self, bodies: list[dict[str, Any]]) -> dict[str, Any]:
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(self._version)},
                "columnDefinitions": [{"name": n, "type": t, "format": "name" if n == "Name" else "",
                                       "description": "", "priority": 0}
                                      for n, t in (("Name", "string"), ("Data", "integer"), ("Age", "string"))],
                "rows": [{"cells": [b["metadata"]["name"], len(b.get("data") or {}),
                                    _age(b["metadata"]["creationTimestamp"])],
                          "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                     "metadata": b["metadata"]}} for b in bodies]}

    def _respond(self, request: Request, bodies: list[dict[str, Any]], *, single: bool,
                 warnings: list[str] | None = None, status: int = 200) -> Response:
        if wants_table(request.headers.get("accept")):
            response = JSONResponse(self._table(bodies), media_type=TABLE_MEDIA_TYPE, status_code=status)
        elif single:
            response = JSONResponse(bodies[0], status_code=status)
        else:
            response = JSONResponse({"kind": "ConfigMapList", "apiVersion": "v1",
                                     "metadata": {"resourceVersion": str(self._version)}, "items": bodies})
        for text in warnings or []:
            response.headers.append("Warning", f'299 - "{text}"')
        return response

    async def list(self, request: Request) -> Response:
        return self._respond(request, self._listed(request), single=False)

    async def get(self, request: Request) -> Response:
        name = request.path_params["name"]
        if self._body is None or name != CONFIGMAP_NAME or request.path_params["namespace"] != self._namespace:
            raise NotFoundError(f'configmaps "{name}" not found')
        return self._respond(request, [self._body], single=True)

    async def create(self, request: Request) -> Response:
        body = await self._decoded(request)
        self._check_place(request, (body.get("metadata") or {}).get("name"))
        if self._body is not None:
            raise AlreadyExistsError(f'configmaps "{CONFIGMAP_NAME}" already exists')
        return self._store(request, body, status=201)

    async def replace(self, request: Request) -> Response:
        self._check_place(request, request.path_params["name"])
        return self._store(request, await self._decoded(request))

    async def patch(self, request: Request) -> Response:
        self._check_place(request, request.path_params["name"])
        if self._body is None:
            raise NotFoundError(f'configmaps "{CONFIGMAP_NAME}" not found')
        patch = await self._decoded(request, typed=False)
        try:
            patched = apply_patch(media_type(request.headers.get("content-type")), self._body, patch)
        except PatchError as exc:
            raise InvalidArgumentError(str(exc)) from None
        return self._store(request, patched)

    async def delete(self, request: Request) -> Response:
        self._check_place(request, request.path_params["name"])
        if self._body is None:
            raise NotFoundError(f'configmaps "{CONFIGMAP_NAME}" not found')
        uid, self._body = self._body["metadata"]["uid"], None
        self._apply({})
        log.info("configmap/%s deleted (management API): settings back to their defaults", CONFIGMAP_NAME)
        return JSONResponse(success({"name": CONFIGMAP_NAME, "kind": "configmaps", "uid": uid}))

    async def _decoded(self, request: Request, *, typed: bool = True) -> Any:
        raw = await asyncio.to_thread(decode_body, await request.body(), request.headers.get("content-type"))
        if typed and (not isinstance(raw, dict) or raw.get("kind", "ConfigMap") != "ConfigMap"):
            raise InvalidArgumentError("expected one ConfigMap object in the request body")
        return raw

    def _store(self, request: Request, body: dict[str, Any], *, status: int = 200) -> Response:
        data = body.get("data") or {}
        if not isinstance(data, dict) or CONFIG_KEY not in data or not isinstance(data[CONFIG_KEY], str):
            raise SpecError("User ConfigMap must contain a key named config.yaml")
        config = parse_serving_config(data[CONFIG_KEY], self._explicit)
        if request.query_params.getlist("dryRun"):
            return self._respond(request, [body], single=True, warnings=config.warnings, status=status)
        previous = (self._body or {}).get("metadata", {})
        self._version += 1
        metadata = {key: value for key, value in (body.get("metadata") or {}).items()
                    if key in ("labels", "annotations")}
        self._body = {"kind": "ConfigMap", "apiVersion": "v1", "data": data,
                      "metadata": metadata | {"name": CONFIGMAP_NAME, "namespace": self._namespace,
                                              "uid": previous.get("uid") or str(uuid.uuid4()),
                                              "creationTimestamp": previous.get("creationTimestamp") or now_rfc3339(),
                                              "resourceVersion": str(self._version)}}
        self._apply(config.settings, config.applied)
        for warning in config.warnings:
            log.warning("configmap/%s: %s", CONFIGMAP_NAME, warning)
        return self._respond(request, [self._body], single=True, warnings=config.warnings, status=status)

    def _apply(self, settings: dict[str, Any], applied: dict[str, Any] | None = None) -> None:
        current = self._context.settings
        for name, value in self._defaults.items():
            if name not in settings:
                setattr(current, name, value)
        for name, value in settings.items():
            self._defaults.setdefault(name, getattr(current, name))
            setattr(current, name, value)
        pool = self._context.pool
        if pool.default_replicas != current.pods_per_runtime:
            pool.default_replicas = current.pods_per_runtime
            started = {runtime_key(h.runtime): h.runtime for h in pool.handles()}
            for runtime in started.values():  # as the Deployment scales: instances start without waiting for a model
                asyncio.get_running_loop().create_task(pool.acquire(runtime), name=f"scale {runtime_key(runtime)}")
        self._context.placement.settings_changed()
        if applied:
            log.info("configmap/%s applied: %s", CONFIGMAP_NAME, ", ".join(f"{k}={v}" for k, v in applied.items()))

    def report(self) -> dict[str, Any]:
        """What `status` shows: the ConfigMap's settings in effect."""
        return {"present": self._body is not None,
                "settings": {name: getattr(self._context.settings, name) for name in self._defaults}}


def add_configmap_routes(app: FastAPI, context: ApiContext) -> _ServingConfigMap:
    configmap = _ServingConfigMap(context)
    app.add_api_route("/api/v1/configmaps", configmap.list, methods=["GET"])
    collection = "/api/v1/namespaces/{namespace}/configmaps"
    app.add_api_route(collection, configmap.list, methods=["GET"])
    app.add_api_route(collection, configmap.create, methods=["POST"])
    item = f"{collection}/{{name}}"
    app.add_api_route(item, configmap.get, methods=["GET"])
    app.add_api_route(item, configmap.replace, methods=["PUT"])
    app.add_api_route(item, configmap.patch, methods=["PATCH"])
    app.add_api_route(item, configmap.delete, methods=["DELETE"])
    return configmap
