"""Runtime instances as core v1 Pods: `kubectl get pods`, `kubectl logs <pod> [-c] [--tail N] [-f]` and
`kubectl delete pod` (which restarts the instance; its models load again on their next use, as on a cluster).

Named as the controller's Deployment names its pods, `modelmesh-serving-<runtime>-<hash>-<suffix>`, labelled
`modelmesh-service` and `name` as upstream labels them. A Pod lists the runtime's own containers only (upstream
adds `mm`, `rest-proxy` and the built-in adapter, which are the emulator's own code here); every container's log
is the instance's log. The emulator's view of its processes, not stored objects: they cannot be created or changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from ..errors import InvalidArgumentError
from ..kube.selectors import SelectorError, matcher
from ..placement.runtime_pool import RuntimeHandle, runtime_key
from .kube_status import NotFoundError, success
from .tables import TABLE_MEDIA_TYPE, human_duration, wants_table

if TYPE_CHECKING:
    from .context import ApiContext

__all__ = ["add_pod_routes", "pod_name"]

_SERVICE = "modelmesh-serving"
_ALL_LINES = 1_000_000
_FOLLOW_TICK_S = 0.5


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_name(handle: RuntimeHandle) -> str:
    """`modelmesh-serving-<runtime>-<10 hex of the runtime>-<5 of the instance>`, as a ReplicaSet names pods."""
    template = hashlib.sha256(runtime_key(handle.runtime).encode()).hexdigest()[:10]
    return f"{_SERVICE}-{handle.runtime_name}-{template}-{handle.location.rsplit('-', 1)[-1][:5]}"


class _Pods:
    def __init__(self, context: ApiContext, stopping: asyncio.Event):
        self._context = context
        self._stopping = stopping

    def _namespace_of(self, handle: RuntimeHandle) -> str:
        return handle.runtime.metadata.namespace or self._context.settings.namespace

    def body(self, handle: RuntimeHandle) -> dict[str, Any]:
        runtime, running = handle.runtime, handle.instance.is_running()
        started = _time(handle.started_at)
        containers = [{"name": c.name, "image": c.image or ""} for c in runtime.spec.containers]
        state = {"running": {"startedAt": started}} if running else {"terminated": {"exitCode": 1,
                                                                                    "reason": "Error"}}
        ready = "True" if running else "False"
        deployment = f"{_SERVICE}-{runtime.metadata.name}"
        return {
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": pod_name(handle), "namespace": self._namespace_of(handle),
                         "uid": handle.location, "creationTimestamp": started, "resourceVersion": "",
                         "labels": {"modelmesh-service": _SERVICE, "name": deployment,
                                    "app.kubernetes.io/managed-by": "modelmesh-controller"},
                         "annotations": {"kubectl.kubernetes.io/default-container": containers[0]["name"],
                                         "modelmesh-emulator/instance": handle.location}},
            "spec": {"containers": containers, "nodeName": "modelmesh-emulator", "restartPolicy": "Always"},
            "status": {"phase": "Running" if running else "Failed", "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
                       "startTime": started,
                       "conditions": [{"type": t, "status": ready} for t in ("Initialized", "Ready",
                                                                             "ContainersReady", "PodScheduled")],
                       "containerStatuses": [{"name": c["name"], "image": c["image"], "imageID": "",
                                              "containerID": f"emulator://{handle.location}", "ready": running,
                                              "started": running, "restartCount": handle.restarts,
                                              "state": state} for c in containers]},
        }

    def _handles(self, request: Request) -> list[RuntimeHandle]:
        namespace = request.path_params.get("namespace")
        return [h for h in self._context.pool.handles() if namespace in (None, self._namespace_of(h))]

    def _find(self, request: Request) -> RuntimeHandle:
        name = request.path_params["name"]
        for handle in self._handles(request):
            if pod_name(handle) == name:
                return handle
        raise NotFoundError(f'pods "{name}" not found')

    def _table(self, handles: list[RuntimeHandle]) -> dict[str, Any]:
        columns = [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1), ("Node", 1)]
        rows = []
        for handle in handles:
            body, count = self.body(handle), len(handle.runtime.spec.containers)
            ready = count if handle.instance.is_running() else 0
            rows.append({"cells": [body["metadata"]["name"], f"{ready}/{count}",
                                   "Running" if ready else "Error", handle.restarts,
                                   human_duration(time.time() - handle.started_at), "127.0.0.1",
                                   "modelmesh-emulator"],
                         "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                    "metadata": body["metadata"]}})
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": ""},
                "columnDefinitions": [{"name": n, "type": "integer" if n == "Restarts" else "string",
                                       "format": "name" if n == "Name" else "", "description": "", "priority": p}
                                      for n, p in columns],
                "rows": rows}

    def _respond(self, request: Request, handles: list[RuntimeHandle], *, single: bool) -> Response:
        if wants_table(request.headers.get("accept")):
            return JSONResponse(self._table(handles), media_type=TABLE_MEDIA_TYPE)
        if single:
            return JSONResponse(self.body(handles[0]))
        return JSONResponse({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": ""},
                             "items": [self.body(h) for h in handles]})

    async def list(self, request: Request) -> Response:
        params = request.query_params
        try:
            matches = matcher(params.get("labelSelector"), params.get("fieldSelector"))
        except SelectorError as exc:
            raise InvalidArgumentError(str(exc)) from None
        return self._respond(request, [h for h in self._handles(request) if matches(self.body(h))], single=False)

    async def get(self, request: Request) -> Response:
        return self._respond(request, [self._find(request)], single=True)

    async def delete(self, request: Request) -> Response:
        handle = self._find(request)
        name = pod_name(handle)
        placement, location = self._context.placement, handle.location
        copies = [copy for vmodel in placement.vmodels() for model in (vmodel.active, vmodel.target)
                  if model is not None and (copy := model.copies.get(location)) is not None]
        for copy in copies:
            placement.invalidate(copy)
        asyncio.get_running_loop().create_task(self._context.pool.restart(handle), name=f"restart {location}")
        return JSONResponse(success({"name": name, "kind": "pods", "uid": location}))

    async def log(self, request: Request) -> Response:
        handle, params = self._find(request), request.query_params
        container = params.get("container")
        names = [c.name for c in handle.runtime.spec.containers]
        if container and container not in names:
            raise InvalidArgumentError(f"container {container} is not valid for pod {pod_name(handle)}")
        try:
            tail = int(params.get("tailLines", "-1"))
        except ValueError:
            raise InvalidArgumentError("tailLines must be a number of lines") from None
        lines = min(tail, _ALL_LINES) if tail >= 0 else _ALL_LINES
        text = await asyncio.to_thread(handle.instance.log_tail, lines)
        if params.get("follow", "").lower() not in ("true", "1"):
            return PlainTextResponse(text)
        return StreamingResponse(self._follow(handle, text), media_type="text/plain")

    async def _follow(self, handle: RuntimeHandle, first: str) -> AsyncIterator[bytes]:
        """The log so far, then what the instance writes, until it stops, the client leaves or the emulator stops."""
        yield first.encode()
        seen = await asyncio.to_thread(handle.instance.log_tail, _ALL_LINES)
        while handle.instance.is_running() and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), _FOLLOW_TICK_S)
            now = await asyncio.to_thread(handle.instance.log_tail, _ALL_LINES)
            if now != seen:
                new = now[len(seen):] if now.startswith(seen) else now  # the log is append-only
                seen = now
                if new:
                    yield new.encode()


def add_pod_routes(app: FastAPI, context: ApiContext, stopping: asyncio.Event) -> None:
    pods = _Pods(context, stopping)
    app.add_api_route("/api/v1/pods", pods.list, methods=["GET"])
    app.add_api_route("/api/v1/namespaces/{namespace}/pods", pods.list, methods=["GET"])
    item = "/api/v1/namespaces/{namespace}/pods/{name}"
    app.add_api_route(item, pods.get, methods=["GET"])
    app.add_api_route(item, pods.delete, methods=["DELETE"])
    app.add_api_route(f"{item}/log", pods.log, methods=["GET"])
