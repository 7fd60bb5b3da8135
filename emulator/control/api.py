"""The management API: Kubernetes-style CRUD on the emulator's objects, plus `/emulator/v1` for the CLI.

Served by uvicorn inside the emulator's event loop and every handler is `async def`, so registry and
placement are only ever touched from that loop. Errors are Kubernetes `Status` bodies. Request bodies
are never logged or echoed back: they may hold storage credentials.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import EmulatorError, InvalidArgumentError, SpecError
from ..kube.guard import UNAUTHENTICATED_PATHS
from ..spec import Manifest
from .kube_status import NotFoundError, failure, failure_for, success
from .manifests import Outcome
from .render import REDACTED, list_body, to_wire
from .resources import RESOURCES, Resource, resource_for
from .tables import TABLE_MEDIA_TYPE, table, wants_table
from .views import model_placement, runtime_instances

if TYPE_CHECKING:
    from ..app import Emulator

__all__ = ["build_api_app"]

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
_MODEL_KINDS = ("InferenceService", "Predictor")
_RUNTIME_KINDS = ("ServingRuntime", "ClusterServingRuntime")
_ALL_LINES = 1_000_000


def _json(body: dict[str, Any], status: int = 200, media_type: str = "application/json") -> Response:
    return JSONResponse(body, status_code=status, media_type=media_type)


class _Api:
    def __init__(self, emulator: Emulator):
        self._emulator = emulator
        self._sync = emulator.manifests

    # ---- Kubernetes-style resources ---------------------------------------------------------------

    def add_resource(self, app: FastAPI, resource: Resource) -> None:
        def bind(method: Callable[[Request, Resource], Awaitable[Response]]) -> Handler:
            async def handler(request: Request) -> Response:
                return await method(request, resource)

            return handler

        collections = [resource.collection_path(None)]
        if resource.namespaced:
            collections.insert(0, resource.collection_path("{namespace}"))
            app.add_api_route(collections[1], bind(self.list), methods=["GET"])
        app.add_api_route(collections[0], bind(self.list), methods=["GET"])
        app.add_api_route(collections[0], bind(self.create), methods=["POST"])
        item = f"{collections[0]}/{{name}}"
        app.add_api_route(item, bind(self.get), methods=["GET"])
        app.add_api_route(item, bind(self.replace), methods=["PUT"])
        app.add_api_route(item, bind(self.delete), methods=["DELETE"])

    async def list(self, request: Request, resource: Resource) -> Response:
        namespace = request.path_params.get("namespace")
        objects = self._emulator.registry.list(resource.kind, namespace if resource.namespaced else None)
        return self._respond(request, resource, objects, single=False)

    async def get(self, request: Request, resource: Resource) -> Response:
        obj = self._sync.get(resource.kind, request.path_params["name"], self._namespace(request, resource))
        return self._respond(request, resource, [obj], single=True)

    async def create(self, request: Request, resource: Resource) -> Response:
        manifest = await self._one_object(request, resource, name=None)
        obj = self._sync.create(manifest)
        log.info("%s (management API)", resource.line(obj.metadata.name, "created"))
        return _json(to_wire(self._emulator, obj), status=201)

    async def replace(self, request: Request, resource: Resource) -> Response:
        manifest = await self._one_object(request, resource, name=request.path_params["name"])
        obj = self._sync.replace(manifest)
        log.info("%s (management API)", resource.line(obj.metadata.name, "replaced"))
        return _json(to_wire(self._emulator, obj))

    async def delete(self, request: Request, resource: Resource) -> Response:
        outcome = self._sync.delete(resource.kind, request.path_params["name"], self._namespace(request, resource))
        log.info("%s (management API)", outcome.line())
        return _json(success({"name": outcome.name, "group": resource.group, "kind": resource.plural}))

    def _namespace(self, request: Request, resource: Resource) -> str | None:
        return request.path_params.get("namespace") if resource.namespaced else None

    async def _one_object(self, request: Request, resource: Resource, name: str | None) -> Manifest:
        manifests = await self._manifests(request, "request body", self._namespace(request, resource))
        if len(manifests) != 1 or manifests[0].kind != resource.kind:
            found = manifests[0].kind if len(manifests) == 1 else f"{len(manifests)} objects"
            raise InvalidArgumentError(f"expected one {resource.kind} for {resource.plural}, got {found}")
        obj = manifests[0]
        if name is not None and obj.metadata.name != name:
            raise InvalidArgumentError(f"the name of the object ({obj.metadata.name}) does not match the name on "
                                       f"the URL ({name})")
        return obj

    def _respond(self, request: Request, resource: Resource, objects: list[Manifest], *, single: bool) -> Response:
        bodies = [to_wire(self._emulator, obj) for obj in objects]
        if wants_table(request.headers.get("accept")):
            return _json(table(resource, self._rows(resource, objects, bodies)), media_type=TABLE_MEDIA_TYPE)
        return _json(bodies[0] if single else list_body(resource, bodies))

    def _rows(self, resource: Resource, objects: list[Manifest], bodies: list[dict[str, Any]]) -> list[dict]:
        if resource.kind in _MODEL_KINDS:
            return [body | {"placement": model_placement(self._emulator, obj)} for obj, body in zip(objects, bodies,
                                                                                                    strict=True)]
        if resource.kind in _RUNTIME_KINDS:
            instances = {(rt["kind"], rt["namespace"], rt["name"]): rt["instances"]
                         for rt in runtime_instances(self._emulator)}
            return [body | {"instances": instances.get((obj.kind, obj.metadata.namespace, obj.metadata.name), [])}
                    for obj, body in zip(objects, bodies, strict=True)]
        return bodies

    async def _manifests(self, request: Request, source: str, namespace: str | None, path: str | None = None
                         ) -> list[Manifest]:
        """The objects in a JSON or YAML request body."""
        body = await request.body()  # at most 3 MiB (kube.guard); decoded in a worker thread
        return await asyncio.to_thread(self._parse, body, request.headers.get("content-type", ""), source, namespace,
                                       path)

    def _parse(self, body: bytes, content_type: str, source: str, namespace: str | None, path: str | None
               ) -> list[Manifest]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidArgumentError("the request body is not UTF-8 text") from None
        try:
            if "json" in content_type:
                try:
                    raw = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise InvalidArgumentError(f"the request body is not valid JSON: {exc.msg} at line "
                                               f"{exc.lineno} column {exc.colno}") from None
                return self._sync.parse_raw(raw, source, namespace)
            return self._sync.parse_text(text, source, namespace, path)
        except SpecError as exc:
            if REDACTED not in text:
                raise
            raise SpecError(f"{exc.cause} ({REDACTED!r} is what the API shows instead of secret values: apply the "
                            "real value)", source=exc.source, document=exc.document, field=exc.field,
                            obj=exc.obj) from None

    # ---- /emulator/v1 -----------------------------------------------------------------------------

    async def info(self, request: Request) -> Response:
        e = self._emulator
        return _json({"version": __version__, "namespace": e.settings.namespace, "grpcUrl": e.grpc_url,
                      "restUrl": e.rest_url, "apiUrl": e.api_url, "launcher": e.launcher.name})

    async def apply(self, request: Request) -> Response:
        return await self._change(request, self._sync.apply)

    async def delete_manifests(self, request: Request) -> Response:
        return await self._change(request, self._sync.delete_all)

    async def _change(self, request: Request, change: Callable[[list[Manifest]], list[Outcome]]) -> Response:
        params = request.query_params
        manifests = await self._manifests(request, params.get("source") or "request body", params.get("namespace"),
                                          params.get("path"))
        outcomes = change(manifests)
        for outcome in outcomes:
            log.log(logging.ERROR if outcome.error else logging.INFO, "%s (management API)", outcome.line())
        return _json({"kind": "ManifestResult", "apiVersion": "emulator/v1",
                      "items": [outcome.to_json() for outcome in outcomes]})

    async def placement(self, request: Request) -> Response:
        resource = resource_for(request.path_params["plural"])
        if resource.kind not in _MODEL_KINDS:
            raise NotFoundError(f"{resource.plural} have no model placement")
        obj = self._sync.get(resource.kind, request.path_params["name"], request.path_params["namespace"])
        return _json(model_placement(self._emulator, obj))

    async def runtimes(self, request: Request) -> Response:
        return _json({"kind": "RuntimeList", "apiVersion": "emulator/v1", "items": runtime_instances(self._emulator)})

    async def logs(self, request: Request) -> Response:
        name, params = request.path_params["name"], request.query_params
        namespace, instance_id = params.get("namespace"), params.get("instance")
        try:
            tail = int(params.get("tail", "-1"))
        except ValueError:
            raise InvalidArgumentError("tail must be a number of lines") from None
        runtimes = [rt for rt in self._emulator.registry.list("ClusterServingRuntime")
                    + self._emulator.registry.list("ServingRuntime", namespace) if rt.metadata.name == name]
        if not runtimes:
            raise NotFoundError(f'servingruntimes.serving.kserve.io "{name}" not found')
        handles = [h for h in self._emulator.pool.handles() if h.runtime.metadata.name == name
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


async def _ok(_: Request) -> Response:
    return PlainTextResponse("ok")


def build_api_app(emulator: Emulator) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    api = _Api(emulator)
    for resource in RESOURCES:
        api.add_resource(app, resource)
    for probe in UNAUTHENTICATED_PATHS:
        app.add_api_route(probe, _ok, methods=["GET"])
    app.add_api_route("/emulator/v1/info", api.info, methods=["GET"])
    app.add_api_route("/emulator/v1/apply", api.apply, methods=["POST"])
    app.add_api_route("/emulator/v1/delete", api.delete_manifests, methods=["POST"])
    app.add_api_route("/emulator/v1/namespaces/{namespace}/{plural}/{name}/placement", api.placement,
                      methods=["GET"])
    app.add_api_route("/emulator/v1/runtimes", api.runtimes, methods=["GET"])
    app.add_api_route("/emulator/v1/runtimes/{name}/logs", api.logs, methods=["GET"])

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
