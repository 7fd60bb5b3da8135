"""Events as the API server serves them: core v1 (`/api/v1[/namespaces/{ns}]/events`) and `events.k8s.io/v1`,
listed, fetched by name, watched, with field selectors on `involvedObject.*` (what `kubectl describe` sends) and
the API server's Table columns (`kubectl get events`). Read-only: the emulator records them (emulator/events.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..errors import InvalidArgumentError
from ..events import COMPONENT, EventRecorder, RecordedEvent
from ..kube.resources import resource_for_kind
from ..kube.selectors import SelectorError, matcher
from .kube_status import NotFoundError
from .tables import TABLE_MEDIA_TYPE, human_duration, wants_table

__all__ = ["add_event_routes", "core_event"]

_CORE_FIELDS = ("metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
                "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
                "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent",
                "source", "type")
_V1_FIELDS = ("metadata.name", "metadata.namespace", "regarding.kind", "regarding.namespace", "regarding.name",
              "regarding.uid", "regarding.apiVersion", "reason", "reportingController", "type")
_TICK_S = 0.5


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reference(event: RecordedEvent) -> dict[str, Any]:
    involved = event.involved
    try:
        api_version = resource_for_kind(involved.kind).api_version
    except KeyError:
        api_version = "v1"
    reference = {"kind": involved.kind, "name": involved.name, "uid": involved.uid, "apiVersion": api_version}
    if involved.namespace:
        reference["namespace"] = involved.namespace
    return reference


def _metadata(event: RecordedEvent) -> dict[str, Any]:
    return {"name": event.name, "namespace": event.namespace, "uid": event.uid,
            "resourceVersion": str(event.resource_version), "creationTimestamp": _time(event.first)}


def core_event(event: RecordedEvent) -> dict[str, Any]:
    """A core v1 Event, as a client-go recorder writes it."""
    return {"kind": "Event", "apiVersion": "v1", "metadata": _metadata(event), "involvedObject": _reference(event),
            "reason": event.reason, "message": event.message, "source": {"component": COMPONENT},
            "firstTimestamp": _time(event.first), "lastTimestamp": _time(event.last), "count": event.count,
            "type": event.type, "eventTime": None, "reportingComponent": COMPONENT, "reportingInstance": ""}


def v1_event(event: RecordedEvent) -> dict[str, Any]:
    """The same event as `events.k8s.io/v1` shows a core event (the deprecated* fields carry the old ones)."""
    body = {"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": _metadata(event),
            "eventTime": _micro_time(event.first), "reportingController": COMPONENT, "reportingInstance": "",
            "action": event.reason, "reason": event.reason, "regarding": _reference(event), "note": event.message,
            "type": event.type, "deprecatedSource": {"component": COMPONENT},
            "deprecatedFirstTimestamp": _time(event.first), "deprecatedLastTimestamp": _time(event.last),
            "deprecatedCount": event.count}
    if event.count > 1:
        body["series"] = {"count": event.count, "lastObservedTime": _micro_time(event.last)}
    return body


def _object_cell(event: RecordedEvent) -> str:
    return f"{event.involved.kind.lower()}/{event.involved.name}"


_COLUMNS = (  # the API server's printer columns for events (pkg/printers/internalversion)
    ("Last Seen", "string", 0, lambda e: human_duration(time.time() - e.last)),
    ("Type", "string", 0, lambda e: e.type),
    ("Reason", "string", 0, lambda e: e.reason),
    ("Object", "string", 0, _object_cell),
    ("Subobject", "string", 1, lambda e: ""),
    ("Source", "string", 1, lambda e: COMPONENT),
    ("Message", "string", 0, lambda e: e.message),
    ("First Seen", "string", 1, lambda e: human_duration(time.time() - e.first)),
    ("Count", "string", 1, lambda e: str(e.count)),
    ("Name", "string", 1, lambda e: e.name),
)


def _table(events: list[RecordedEvent], render: Any, revision: int, include: str, with_columns: bool = True
           ) -> dict[str, Any]:
    def row_object(event: RecordedEvent) -> dict[str, Any] | None:
        if include == "None":
            return None
        body = render(event)
        if include == "Object":
            return body
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": body["metadata"]}

    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(revision)},
            "columnDefinitions": [{"name": name, "type": kind, "format": "name" if name == "Name" else "",
                                   "description": "", "priority": priority}
                                  for name, kind, priority, _ in _COLUMNS] if with_columns else None,
            "rows": [{"cells": [cell(e) for *_, cell in _COLUMNS], "object": row_object(e)} for e in events]}


class _EventRoutes:
    def __init__(self, recorder: EventRecorder, stopping: asyncio.Event, api_version: str):
        self._recorder = recorder
        self._stopping = stopping
        self._api_version = api_version
        self._render = core_event if api_version == "v1" else v1_event
        self._fields = _CORE_FIELDS if api_version == "v1" else _V1_FIELDS

    def _selected(self, request: Request, events: list[RecordedEvent]) -> list[RecordedEvent]:
        params = request.query_params
        try:
            matches = matcher(params.get("labelSelector"), params.get("fieldSelector"), self._fields)
        except SelectorError as exc:
            raise InvalidArgumentError(str(exc)) from None
        namespace = request.path_params.get("namespace")
        return [e for e in events if (namespace is None or e.namespace == namespace) and matches(self._render(e))]

    async def list(self, request: Request) -> Response:
        if request.query_params.get("watch", "").lower() in ("true", "1"):
            return self._watch(request)
        events = self._selected(request, self._recorder.events())
        revision = self._recorder.revision
        if wants_table(request.headers.get("accept")):
            include = request.query_params.get("includeObject", "Metadata")
            return JSONResponse(_table(events, self._render, revision, include), media_type=TABLE_MEDIA_TYPE)
        return JSONResponse({"kind": "EventList", "apiVersion": self._api_version,
                             "metadata": {"resourceVersion": str(revision)},
                             "items": [self._render(e) for e in events]})

    async def get(self, request: Request) -> Response:
        name, namespace = request.path_params["name"], request.path_params["namespace"]
        for event in self._recorder.events():
            if event.name == name and event.namespace == namespace:
                if wants_table(request.headers.get("accept")):
                    include = request.query_params.get("includeObject", "Metadata")
                    return JSONResponse(_table([event], self._render, event.resource_version, include),
                                        media_type=TABLE_MEDIA_TYPE)
                return JSONResponse(self._render(event))
        group = "" if self._api_version == "v1" else "events.k8s.io"
        raise NotFoundError(f'events{"." + group if group else ""} "{name}" not found')

    def _watch(self, request: Request) -> StreamingResponse:
        params = request.query_params
        given = params.get("resourceVersion", "")
        if given not in ("", "0") and not given.isdigit():
            raise InvalidArgumentError(f'resourceVersion "{given}" is not one this server handed out')
        as_table = wants_table(request.headers.get("accept"))
        include = params.get("includeObject", "Metadata")
        try:
            timeout = float(params["timeoutSeconds"]) if "timeoutSeconds" in params else None
        except ValueError:
            raise InvalidArgumentError(f'timeoutSeconds "{params["timeoutSeconds"]}" is not a number') from None
        self._selected(request, [])  # a bad selector is a 400 before streaming starts

        def line(kind: str, event: RecordedEvent, first: bool) -> bytes:
            obj = _table([event], self._render, event.resource_version, include, first) if as_table \
                else self._render(event)
            return (json.dumps({"type": kind, "object": obj}) + "\n").encode("utf-8")

        async def stream() -> AsyncIterator[bytes]:
            deadline = time.monotonic() + timeout if timeout is not None else None
            first = True
            if given in ("", "0"):
                cursor = self._recorder.revision
                lines = [line("ADDED", e, first and not index)
                         for index, e in enumerate(self._selected(request, self._recorder.events()))]
            else:
                cursor, lines = int(given), []
            seen = {e.uid for e in self._recorder.events() if e.resource_version <= cursor}
            while True:
                for event in self._selected(request, self._recorder.changes_after(cursor)):
                    lines.append(line("MODIFIED" if event.uid in seen else "ADDED", event, first and not lines))
                    seen.add(event.uid)
                cursor = max(cursor, self._recorder.revision)
                if lines:
                    first = False
                    yield b"".join(lines)
                    lines = []
                if deadline is not None and time.monotonic() >= deadline:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), _TICK_S)
                if self._stopping.is_set():
                    return

        return StreamingResponse(stream(), media_type="application/json")


def add_event_routes(app: FastAPI, recorder: EventRecorder, stopping: asyncio.Event) -> None:
    for root, api_version in (("/api/v1", "v1"), ("/apis/events.k8s.io/v1", "events.k8s.io/v1")):
        routes = _EventRoutes(recorder, stopping, api_version)
        app.add_api_route(f"{root}/events", routes.list, methods=["GET"])
        app.add_api_route(f"{root}/namespaces/{{namespace}}/events", routes.list, methods=["GET"])
        app.add_api_route(f"{root}/namespaces/{{namespace}}/events/{{name}}", routes.get, methods=["GET"])
