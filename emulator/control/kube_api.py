"""The Kubernetes resource endpoints: list/watch, get, create, replace, patch, delete, deletecollection and the
`/status` subresource, with the API server's query parameters (dryRun, fieldManager, fieldValidation,
labelSelector, fieldSelector, resourceVersion, watch, includeObject)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..errors import InvalidArgumentError
from ..kube import fields
from ..kube.objects import ObjectKey, ObjectStamps
from ..kube.patch import APPLY, PatchError, apply_conflicts, apply_patch, drop_released
from ..kube.resources import Resource
from ..kube.selectors import SelectorError, matcher
from ..spec import Manifest
from ..spec.kinds import MODEL_BY_KIND
from ..spec.validation import validate_manifest
from .context import object_key
from .kube_status import AlreadyExistsError, ConflictError, NotFoundError, success
from .kube_watch import watch_response
from .render import explain_redacted, list_body, stored_body, to_wire
from .request_body import decode_body, media_type
from .runtime_sources import with_image_source
from .tables import TABLE_MEDIA_TYPE, table, wants_table
from .views import model_placement, runtime_instances

if TYPE_CHECKING:
    from .context import ApiContext

__all__ = ["KubeApi"]

log = logging.getLogger(__name__)

_MODEL_KINDS = ("InferenceService", "Predictor")
_RUNTIME_KINDS = ("ServingRuntime", "ClusterServingRuntime")
_SECRET_FIELDS = frozenset({"data", "stringData"})
Handler = Callable[[Request], Awaitable[Response]]


def _json(body: dict[str, Any], status: int = 200, media_type: str = "application/json",
          warnings: list[str] | None = None) -> Response:
    headers = [("Warning", text) for text in warnings or []]
    response = JSONResponse(body, status_code=status, media_type=media_type)
    for name, value in headers:
        response.headers.append(name, value)
    return response


class KubeApi:
    def __init__(self, context: ApiContext, stopping: asyncio.Event):
        self._context = context
        self._sync = context.manifests
        self._stopping = stopping
        self._applied: dict[tuple, dict[str, dict[str, Any]]] = {}
        """Per object, the body each server-side apply manager last applied (for conflicts)."""

    def add_routes(self, app: FastAPI, resource: Resource) -> None:
        def bind(method: Callable[[Request, Resource], Awaitable[Response]]) -> Handler:
            async def handler(request: Request) -> Response:
                return await method(request, resource)

            return handler

        collections = [resource.collection_path(None)]
        if resource.namespaced:
            collections.insert(0, resource.collection_path("{namespace}"))
            app.add_api_route(collections[1], bind(self.list), methods=["GET"])
        collection = collections[0]
        app.add_api_route(collection, bind(self.list), methods=["GET"])
        app.add_api_route(collection, bind(self.create), methods=["POST"])
        app.add_api_route(collection, bind(self.delete_collection), methods=["DELETE"])
        item = f"{collection}/{{name}}"
        app.add_api_route(item, bind(self.get), methods=["GET"])
        app.add_api_route(item, bind(self.replace), methods=["PUT"])
        app.add_api_route(item, bind(self.patch), methods=["PATCH"])
        app.add_api_route(item, bind(self.delete), methods=["DELETE"])
        if resource.status_subresource:
            app.add_api_route(f"{item}/status", bind(self.get), methods=["GET"])
            app.add_api_route(f"{item}/status", bind(self.write_status), methods=["PUT", "PATCH"])

    # ---- reads ------------------------------------------------------------------------------------

    def _namespace(self, request: Request, resource: Resource) -> str | None:
        return request.path_params.get("namespace") if resource.namespaced else None

    def _selected(self, request: Request, resource: Resource) -> list[Manifest]:
        params = request.query_params
        try:
            matches = matcher(params.get("labelSelector"), params.get("fieldSelector"))
        except SelectorError as exc:
            raise InvalidArgumentError(str(exc)) from None
        objects = self._context.registry.list(resource.kind, self._namespace(request, resource))
        return [obj for obj in objects if matches(to_wire(self._context, obj))]

    async def list(self, request: Request, resource: Resource) -> Response:
        if request.query_params.get("watch", "").lower() in ("true", "1"):
            return watch_response(self, request, resource)
        objects = self._selected(request, resource)
        return self._respond(request, resource, objects, single=False)

    async def get(self, request: Request, resource: Resource) -> Response:
        obj = self._sync.get(resource.kind, request.path_params["name"], self._namespace(request, resource))
        return self._respond(request, resource, [obj], single=True)

    def selected(self, request: Request, resource: Resource) -> list[Manifest]:
        return self._selected(request, resource)

    def watches(self, request: Request, resource: Resource, key: ObjectKey, body: dict[str, Any]) -> bool:
        """Whether a watch of `resource` at this request's path and selectors sees the object `key` / `body`."""
        kind, namespace, _ = key
        wanted = self._namespace(request, resource)
        if kind != resource.kind or (wanted is not None and namespace != wanted):
            return False
        params = request.query_params
        return matcher(params.get("labelSelector"), params.get("fieldSelector"))(body)

    @property
    def stamps(self) -> ObjectStamps:
        return self._context.stamps

    def rows(self, resource: Resource, objects: list[Manifest]) -> list[dict[str, Any]]:
        """Objects as returned, plus what the emulator's wide columns show (placement, instances)."""
        bodies = [to_wire(self._context, obj) for obj in objects]
        if resource.kind in _MODEL_KINDS:
            return [body | {"placement": model_placement(self._context, obj)}
                    for obj, body in zip(objects, bodies, strict=True)]
        if resource.kind in _RUNTIME_KINDS:
            instances = {(rt["kind"], rt["namespace"], rt["name"]): rt["instances"]
                         for rt in runtime_instances(self._context)}
            return [body | {"instances": instances.get((obj.kind, obj.metadata.namespace, obj.metadata.name), [])}
                    for obj, body in zip(objects, bodies, strict=True)]
        return bodies

    @property
    def revision(self) -> str:
        return str(self._context.stamps.revision)

    @property
    def stopping(self) -> asyncio.Event:
        return self._stopping

    def _respond(self, request: Request, resource: Resource, objects: list[Manifest], *, single: bool) -> Response:
        if wants_table(request.headers.get("accept")):
            include = request.query_params.get("includeObject", "Metadata")
            return _json(table(resource, self.rows(resource, objects), resource_version=self.revision,
                               include_object=include), media_type=TABLE_MEDIA_TYPE)
        bodies = [to_wire(self._context, obj) for obj in objects]
        return _json(bodies[0] if single else list_body(resource, bodies, self.revision))

    # ---- writes -----------------------------------------------------------------------------------

    async def _decoded(self, request: Request) -> Any:
        body = await request.body()
        return await asyncio.to_thread(decode_body, body, request.headers.get("content-type"))

    def _typed(self, raw: Any, resource: Resource) -> dict[str, Any]:
        """The body as an object of `resource`: apiVersion and kind filled in from the URL when absent."""
        if not isinstance(raw, dict):
            raise InvalidArgumentError(f"expected one {resource.kind} object in the request body")
        raw = {"apiVersion": resource.api_version, "kind": resource.kind} | raw
        if raw["kind"] != resource.kind:
            raise InvalidArgumentError(f"expected one {resource.kind} for {resource.plural}, got {raw['kind']}")
        return raw

    def _field_warnings(self, request: Request, resource: Resource, raw: dict[str, Any], *, decoding: bool = True
                        ) -> list[str]:
        """Unknown fields of `raw` per fieldValidation; `decoding` when `raw` is the request body itself (the API
        server then says it cannot decode it as the kind)."""
        level = request.query_params.get("fieldValidation", "Warn")
        if level not in fields.LEVELS:
            raise InvalidArgumentError(f'fieldValidation must be one of {", ".join(fields.LEVELS)}, not "{level}"')
        if level == "Ignore":
            return []
        extra = _SECRET_FIELDS if resource.kind == "Secret" else frozenset()
        unknown = fields.unknown_fields(raw, MODEL_BY_KIND[resource.kind], extra_top=extra)
        if unknown and level == "Strict":
            prefix = f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: ' \
                if decoding else ""
            raise InvalidArgumentError(prefix + fields.strict_message(unknown))
        return fields.warning_texts(unknown)

    def _manifest(self, request: Request, resource: Resource, raw: dict[str, Any]) -> Manifest:
        manifests = self._sync.parse_raw(raw, "request body", self._namespace(request, resource))
        if len(manifests) != 1 or manifests[0].kind != resource.kind:
            raise InvalidArgumentError(f"expected one {resource.kind} for {resource.plural}")
        name = request.path_params.get("name")
        if name is not None and manifests[0].metadata.name != name:
            raise InvalidArgumentError(f"the name of the object ({manifests[0].metadata.name}) does not match the "
                                       f"name on the URL ({name})")
        return with_image_source(manifests[0], self._context.settings.image_sources)

    def _dry_run(self, request: Request) -> bool:
        values = request.query_params.getlist("dryRun")
        if any(value != "All" for value in values):
            raise InvalidArgumentError(f'dryRun must be "All", not {values}')
        return bool(values)

    def _manager(self, request: Request) -> str:
        given = request.query_params.get("fieldManager")
        return given or request.headers.get("user-agent", "unknown").split("/", 1)[0]

    def _validate(self, manifest: Manifest) -> None:
        settings = self._context.settings
        validate_manifest(manifest, built_in_server_types=settings.built_in_server_types,
                          storage_secret_name=settings.storage_secret_name)

    def _store(self, request: Request, resource: Resource, manifest: Manifest, operation: str,
               body: dict[str, Any], *, create: bool) -> Manifest:
        obj = self._sync.create(manifest) if create else self._sync.replace(manifest)
        self._context.stamps.record_manager(object_key(obj), manager=self._manager(request), operation=operation,
                                            api_version=resource.api_version, body=body)
        log.info("%s (management API)", resource.line(obj.metadata.name, "created" if create else "configured"))
        return obj

    def _check_version(self, resource: Resource, obj: Manifest, raw: dict[str, Any]) -> None:
        wanted = (raw.get("metadata") or {}).get("resourceVersion")
        stamp = self._context.stamps.stamp(object_key(obj))
        if wanted and stamp is not None and str(wanted) != str(stamp.resource_version):
            raise ConflictError(f'Operation cannot be fulfilled on {resource.qualified_plural} "{obj.metadata.name}": '
                                "the object has been modified; please apply your changes to the latest version and "
                                "try again", {"name": obj.metadata.name, "group": resource.group,
                                              "kind": resource.plural})

    async def create(self, request: Request, resource: Resource) -> Response:
        raw = self._typed(await self._decoded(request), resource)
        warnings = self._field_warnings(request, resource, raw)
        manifest = explain_redacted(lambda: self._manifest(request, resource, raw), str(raw))
        name, namespace = manifest.metadata.name, manifest.metadata.namespace
        if self._context.registry.get(resource.kind, name, namespace) is not None:
            raise AlreadyExistsError(f'{resource.qualified_plural} "{name}" already exists')
        if self._dry_run(request):
            self._validate(manifest)
            return _json(to_wire(self._context, manifest), 201, warnings=warnings)
        obj = self._store(request, resource, manifest, "Update", raw, create=True)
        return _json(to_wire(self._context, obj), 201, warnings=warnings)

    async def replace(self, request: Request, resource: Resource) -> Response:
        raw = self._typed(await self._decoded(request), resource)
        warnings = self._field_warnings(request, resource, raw)
        manifest = explain_redacted(lambda: self._manifest(request, resource, raw), str(raw))
        live = self._sync.get(resource.kind, request.path_params["name"], self._namespace(request, resource))
        self._check_version(resource, live, raw)
        if self._dry_run(request):
            self._validate(manifest)
            return _json(to_wire(self._context, manifest), warnings=warnings)
        obj = self._store(request, resource, manifest, "Update", raw, create=False)
        return _json(to_wire(self._context, obj), warnings=warnings)

    async def patch(self, request: Request, resource: Resource) -> Response:
        kind = media_type(request.headers.get("content-type"))
        patch = await self._decoded(request)
        name, namespace = request.path_params["name"], self._namespace(request, resource)
        existing = self._context.registry.get(resource.kind, name, namespace)
        if existing is None and kind != APPLY:
            raise NotFoundError(f'{resource.qualified_plural} "{name}" not found')
        live = {key: value for key, value in stored_body(self._context, existing).items() if key != "status"} \
            if existing is not None else {}
        key = (resource.kind, namespace, name)
        if kind == APPLY:
            self._check_apply(request, resource, key, patch, live)
            applied = self._applied.get(key, {})
            previous = applied.get(self._manager(request))
            if previous is not None:
                others = {m: body for m, body in applied.items() if m != self._manager(request)}
                live = drop_released(live, previous, patch, others)
        try:
            result = self._typed(apply_patch(kind, live, patch), resource)
        except PatchError as exc:
            raise InvalidArgumentError(str(exc)) from None
        result.setdefault("metadata", {}).setdefault("name", name)
        warnings = self._field_warnings(request, resource, result, decoding=False)
        if existing is not None:
            self._check_version(resource, existing, patch if isinstance(patch, dict) else {})
        manifest = explain_redacted(lambda: self._manifest(request, resource, result), str(result))
        if self._dry_run(request):
            self._validate(manifest)
            return _json(to_wire(self._context, manifest), warnings=warnings)
        obj = self._store(request, resource, manifest, "Apply" if kind == APPLY else "Update",
                          patch if kind == APPLY else result, create=existing is None)
        if kind == APPLY:
            self._applied.setdefault(key, {})[self._manager(request)] = patch
        return _json(to_wire(self._context, obj), 201 if existing is None else 200, warnings=warnings)

    def _check_apply(self, request: Request, resource: Resource, key: tuple, patch: Any, live: dict[str, Any]
                     ) -> None:
        if not request.query_params.get("fieldManager"):
            raise InvalidArgumentError("fieldManager is required for apply requests")
        if not isinstance(patch, dict) or request.query_params.get("force", "").lower() == "true":
            return
        manager = self._manager(request)
        others = {m: body for m, body in self._applied.get(key, {}).items() if m != manager}
        conflicts = apply_conflicts(patch, live, others)
        if conflicts:
            causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}"', "field": path}
                      for m, path in conflicts]
            listed = "\n".join(f'- conflict with "{m}": {path}' for m, path in conflicts)
            raise ConflictError(f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: "
                                + (listed[2:] if len(conflicts) == 1 else "\n" + listed),
                                {"name": key[2], "group": resource.group, "kind": resource.plural,
                                 "causes": causes})

    async def write_status(self, request: Request, resource: Resource) -> Response:
        """The emulator owns status, as ModelMesh's controller does: a write is checked, then the current status
        (which would overwrite it at once on a cluster) is returned."""
        obj = self._sync.get(resource.kind, request.path_params["name"], self._namespace(request, resource))
        decoded = await self._decoded(request)
        if request.method == "PUT":
            self._check_version(resource, obj, self._typed(decoded, resource))
        return _json(to_wire(self._context, obj))

    async def delete(self, request: Request, resource: Resource) -> Response:
        name, namespace = request.path_params["name"], self._namespace(request, resource)
        obj = self._sync.get(resource.kind, name, namespace)
        body = to_wire(self._context, obj)
        if not self._dry_run(request):
            self._applied.pop((resource.kind, namespace, name), None)
            log.info("%s (management API)", self._sync.delete(resource.kind, name, namespace).line())
        return _json(success({"name": name, "group": resource.group, "kind": resource.plural,
                              "uid": body["metadata"].get("uid", "")}))

    async def delete_collection(self, request: Request, resource: Resource) -> Response:
        objects = self._selected(request, resource)
        bodies = [to_wire(self._context, obj) for obj in objects]
        if not self._dry_run(request):
            for obj in objects:
                log.info("%s (management API)", self._sync.delete(obj.kind, obj.metadata.name,
                                                                  obj.metadata.namespace).line())
        return _json(list_body(resource, bodies, self.revision))
