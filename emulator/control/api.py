"""The management API: a Kubernetes API server for the emulator's kinds, plus `/emulator/v1` for the CLI.

Served by uvicorn inside the emulator's event loop and every handler is `async def`, so registry and
placement are only ever touched from that loop. Errors are Kubernetes `Status` bodies. Request bodies
are never logged or echoed back: they may hold storage credentials. Access control (token, Host, Origin,
body types and size) is kube.guard's, wrapped around this app by app.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import EmulatorError, InvalidArgumentError
from ..kube import discovery, openapi
from ..kube.guard import UNAUTHENTICATED_PATHS
from ..kube.resources import RESOURCES, Resource, resource_for
from ..spec import Manifest
from ..spec.kinds import MODEL_BY_KIND
from .adapter_files import adapter_files
from .configmap_api import CONFIGMAP_RESOURCE, CONFIGMAP_SCHEMAS, add_configmap_routes
from .event_api import add_event_routes
from .kube_api import KubeApi
from .kube_status import NotFoundError, failure, failure_for
from .manifests import Outcome
from .modelmesh_view import modelmesh_registrations
from .pods import add_pod_routes
from .render import explain_redacted
from .views import model_placement, runtime_instances

if TYPE_CHECKING:
    from .context import ApiContext

__all__ = ["build_api_app"]

log = logging.getLogger(__name__)

_MODEL_KINDS = ("InferenceService", "Predictor")
_ALL_LINES = 1_000_000


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


def _model_of(resource: Resource) -> Any:
    return MODEL_BY_KIND[resource.kind]


class _EmulatorRoutes:
    """`/emulator/v1`: what only the emulator has (multi-document apply for the CLI, placement, runtimes, logs)."""

    def __init__(self, context: ApiContext):
        self._context = context
        self._sync = context.manifests

    async def info(self, request: Request) -> Response:
        c = self._context
        return _json({"version": __version__, "namespace": c.settings.namespace, "grpcUrl": c.grpc_url,
                      "restUrl": c.rest_url, "apiUrl": c.api_url, "launcher": c.launcher_name})

    async def apply(self, request: Request) -> Response:
        return await self._change(request, self._sync.apply)

    async def delete_manifests(self, request: Request) -> Response:
        return await self._change(request, self._sync.delete_all)

    async def _change(self, request: Request, change: Callable[[list[Manifest]], list[Outcome]]) -> Response:
        params = request.query_params
        body = await request.body()  # at most 3 MiB (kube.guard); parsed in a worker thread
        manifests = await asyncio.to_thread(self._parse, body, params.get("source") or "request body",
                                            params.get("namespace"), params.get("path"))
        outcomes = change(manifests)
        for outcome in outcomes:
            log.log(logging.ERROR if outcome.error else logging.INFO, "%s (management API)", outcome.line())
        return _json({"kind": "ManifestResult", "apiVersion": "emulator/v1",
                      "items": [outcome.to_json() for outcome in outcomes]})

    def _parse(self, body: bytes, source: str, namespace: str | None, path: str | None) -> list[Manifest]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidArgumentError("the request body is not UTF-8 text") from None
        return explain_redacted(lambda: self._sync.parse_text(text, source, namespace, path), text)

    async def placement(self, request: Request) -> Response:
        resource = resource_for(request.path_params["plural"])
        if resource.kind not in _MODEL_KINDS:
            raise NotFoundError(f"{resource.plural} have no model placement")
        obj = self._sync.get(resource.kind, request.path_params["name"], request.path_params["namespace"])
        view = model_placement(self._context, obj)
        dirs = {h.location: h.instance.models_dir for h in self._context.pool.handles()}
        for model in (view["active"], view["target"]):
            for copy in (model or {}).get("copies", []):
                if copy["instance"] in dirs:
                    copy["files"] = await asyncio.to_thread(adapter_files, dirs[copy["instance"]], model["modelId"])
        return _json(view)

    async def runtimes(self, request: Request) -> Response:
        return _json({"kind": "RuntimeList", "apiVersion": "emulator/v1", "items": runtime_instances(self._context)})

    async def modelmesh(self, request: Request) -> Response:
        return _json(modelmesh_registrations(self._context))

    async def logs(self, request: Request) -> Response:
        name, params = request.path_params["name"], request.query_params
        namespace, instance_id = params.get("namespace"), params.get("instance")
        try:
            tail = int(params.get("tail", "-1"))
        except ValueError:
            raise InvalidArgumentError("tail must be a number of lines") from None
        registry = self._context.registry
        runtimes = [rt for rt in registry.list("ClusterServingRuntime") + registry.list("ServingRuntime", namespace)
                    if rt.metadata.name == name]
        if not runtimes:
            raise NotFoundError(f'servingruntimes.serving.kserve.io "{name}" not found')
        handles = [h for h in self._context.pool.handles() if h.runtime.metadata.name == name
                   and (namespace is None or h.runtime.metadata.namespace in (None, namespace))
                   and instance_id in (None, h.location)]
        if not handles:
            which = f"instance {instance_id}" if instance_id else "running instance"
            raise NotFoundError(f"runtime {name} has no {which} (instances start when a model needs them)")
        lines = min(tail, _ALL_LINES) if tail >= 0 else _ALL_LINES  # clamped, as the API server clamps tailLines
        texts = await asyncio.gather(*(asyncio.to_thread(h.instance.log_tail, lines) for h in handles))
        if len(handles) == 1:
            return PlainTextResponse(texts[0])
        return PlainTextResponse("".join(f"==> {h.location} <==\n{text}" for h, text in zip(handles, texts,
                                                                                             strict=True)))


_OPENAPI: dict[str, dict[str, Any]] = {}


def _cached(key: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """OpenAPI documents depend only on the code: built once per process."""
    if key not in _OPENAPI:
        _OPENAPI[key] = build()
    return _OPENAPI[key]


def _namespace_body(name: str) -> dict[str, Any]:
    """Every namespace exists in the emulator (objects may name any); it is listed once something uses it."""
    return {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name}, "status": {"phase": "Active"}}


def _add_discovery(app: FastAPI, context: ApiContext) -> None:
    async def version(_: Request) -> Response:
        return _json(discovery.version_info(__version__))

    async def api(_: Request) -> Response:
        return _json(discovery.api_versions())

    async def apis(_: Request) -> Response:
        return _json(discovery.api_group_list())

    async def group(request: Request) -> Response:
        name = request.path_params["group"]
        if not discovery.group_versions(name):
            raise NotFoundError("the server could not find the requested resource")
        return _json(discovery.api_group(name))

    async def group_version(request: Request) -> Response:
        found = discovery.api_resource_list(request.path_params.get("group", ""), request.path_params["version"])
        if found is None:
            raise NotFoundError("the server could not find the requested resource")
        return _json(found)

    async def openapi_index(_: Request) -> Response:
        return _json(_cached("v3", lambda: openapi.openapi_v3_index(RESOURCES, _model_of)))

    async def openapi_document(request: Request) -> Response:
        path = request.path_params["path"]
        members = openapi.group_version_resources(RESOURCES, path)
        if not members:
            raise NotFoundError("the server could not find the requested resource")
        document = _cached(path, lambda: openapi.openapi_v3_document(members, _model_of))
        if path == "api/v1":
            document["components"]["schemas"] |= CONFIGMAP_SCHEMAS
            document["paths"] |= openapi.resource_paths(CONFIGMAP_RESOURCE)
        return _json(document)

    async def openapi_v2(_: Request) -> Response:
        return _json(_cached("v2", lambda: openapi.openapi_v2(RESOURCES, _model_of)))

    async def namespace(request: Request) -> Response:
        return _json(_namespace_body(request.path_params["name"]))

    async def delete_namespace(request: Request) -> Response:
        """Deletes every object in the namespace, as the namespace controller does; the name stays usable (every
        namespace exists in the emulator), so kubectl should not wait for it to disappear (`--wait=false`)."""
        name = request.path_params["name"]
        for resource in RESOURCES:
            if resource.namespaced:
                for obj in context.registry.list(resource.kind, name):
                    log.info("%s (namespace %s deleted)", context.manifests.delete(obj.kind, obj.metadata.name,
                                                                                   name).line(), name)
        return _json(_namespace_body(name) | {"status": {"phase": "Terminating"}})

    async def namespaces(request: Request) -> Response:
        registry = context.registry
        names = {context.settings.namespace} | {
            obj.metadata.namespace for resource in RESOURCES if resource.namespaced
            for obj in registry.list(resource.kind) if obj.metadata.namespace}
        return _json({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": ""},
                      "items": [_namespace_body(name) for name in sorted(names)]})

    app.add_api_route("/api/v1/namespaces/{name}", delete_namespace, methods=["DELETE"])
    for path, handler in (("/version", version), ("/api", api), ("/apis", apis), ("/api/{version}", group_version),
                          ("/apis/{group}", group), ("/apis/{group}/{version}", group_version),
                          ("/openapi/v3", openapi_index), ("/openapi/v3/{path:path}", openapi_document),
                          ("/openapi/v2", openapi_v2), ("/api/v1/namespaces/{name}", namespace),
                          ("/api/v1/namespaces", namespaces)):
        app.add_api_route(path, handler, methods=["GET"])


async def _ok(_: Request) -> Response:
    return PlainTextResponse("ok")


def build_api_app(context: ApiContext, stopping: asyncio.Event) -> FastAPI:
    """The API app; `stopping` set ends open watches (so the server can stop)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    kube = KubeApi(context, stopping)
    for resource in RESOURCES:
        kube.add_routes(app, resource)
    _add_discovery(app, context)
    add_event_routes(app, context.events, stopping)
    add_pod_routes(app, context, stopping)
    serving_config = add_configmap_routes(app, context)
    for probe in UNAUTHENTICATED_PATHS:
        app.add_api_route(probe, _ok, methods=["GET"])
    routes = _EmulatorRoutes(context)
    app.add_api_route("/emulator/v1/info", routes.info, methods=["GET"])
    app.add_api_route("/emulator/v1/apply", routes.apply, methods=["POST"])
    app.add_api_route("/emulator/v1/delete", routes.delete_manifests, methods=["POST"])
    app.add_api_route("/emulator/v1/namespaces/{namespace}/{plural}/{name}/placement", routes.placement,
                      methods=["GET"])
    app.add_api_route("/emulator/v1/runtimes", routes.runtimes, methods=["GET"])
    app.add_api_route("/emulator/v1/modelmesh", routes.modelmesh, methods=["GET"])
    app.add_api_route("/emulator/v1/runtimes/{name}/logs", routes.logs, methods=["GET"])

    async def serving_config_report(_: Request) -> Response:
        return _json(serving_config.report())

    app.add_api_route("/emulator/v1/servingconfig", serving_config_report, methods=["GET"])

    @app.exception_handler(EmulatorError)
    async def emulator_error(_: Request, exc: EmulatorError) -> Response:
        body = failure_for(exc)
        return _json(body, status=body["code"])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return _json(failure(405, "the server does not allow this method on the requested resource"), 405)
        return _json(failure(404, "the server could not find the requested resource"), 404)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        where = ", ".join(".".join(str(part) for part in error["loc"]) for error in exc.errors())
        return _json(failure(400, f"invalid request: {where}"), 400)

    return app
