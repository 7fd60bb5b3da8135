"""`?watch=true`: ADDED / MODIFIED / DELETED (and BOOKMARK) events, one JSON object per line, as objects or as
one-row Tables (the first carrying the column definitions), until the client leaves, `timeoutSeconds` pass or
the emulator stops.

Every half second a watch sends the writes recorded since its last look (kube.objects keeps them, so an
object created and deleted in between is still seen), then renders the watched objects: rendering is what gives
a status change (Loading → Loaded) its new resourceVersion, so each status change is one MODIFIED event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from ..errors import InvalidArgumentError
from ..kube.objects import ObjectKey
from ..kube.resources import Resource
from ..spec import Manifest
from .context import object_key
from .tables import table, wants_table

if TYPE_CHECKING:
    from .kube_api import KubeApi

__all__ = ["watch_response"]

_TICK_S = 0.5
_BOOKMARK_S = 30.0


def _since(request: Request) -> int | None:
    """The resourceVersion to watch from; None to start with the current state (synthetic ADDED events)."""
    given = request.query_params.get("resourceVersion", "")
    if given in ("", "0"):
        return None
    if not given.isdigit():
        raise InvalidArgumentError(f'resourceVersion "{given}" is not one this server handed out')
    return int(given)


def _timeout(request: Request) -> float | None:
    given = request.query_params.get("timeoutSeconds")
    if given is None:
        return None
    try:
        return max(0.0, float(given))
    except ValueError:
        raise InvalidArgumentError(f'timeoutSeconds "{given}" is not a number') from None


def _rows(api: KubeApi, request: Request, resource: Resource) -> list[tuple[Manifest, dict[str, Any]]]:
    objects = api.selected(request, resource)
    return list(zip(objects, api.rows(resource, objects), strict=True))


def watch_response(api: KubeApi, request: Request, resource: Resource) -> StreamingResponse:
    since, timeout = _since(request), _timeout(request)
    as_table = wants_table(request.headers.get("accept"))
    include = request.query_params.get("includeObject", "Metadata")
    bookmarks = request.query_params.get("allowWatchBookmarks", "").lower() == "true"
    api.selected(request, resource)  # a bad selector is a 400 before streaming starts

    def event(kind: str, row: dict[str, Any], first: bool) -> bytes:
        if as_table:
            obj: dict[str, Any] = table(resource, [row], resource_version=row["metadata"]["resourceVersion"],
                                        include_object=include, with_columns=first)
        else:
            obj = {key: value for key, value in row.items() if key not in ("placement", "instances")}
        return (json.dumps({"type": kind, "object": obj}) + "\n").encode("utf-8")

    async def stream() -> AsyncIterator[bytes]:
        stamps = api.stamps
        cursor = since if since is not None else stamps.revision
        sent: dict[ObjectKey, int] = {}
        """The resourceVersion of the last event sent per object."""
        first = True
        deadline = time.monotonic() + timeout if timeout is not None else None
        last_bookmark = time.monotonic()
        if since is not None and stamps.expired(since):
            gone = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Expired",
                    "message": f"too old resource version: {since} ({stamps.revision})", "code": 410}
            yield (json.dumps({"type": "ERROR", "object": gone}) + "\n").encode("utf-8")
            return
        if since is None:  # start with the current state, as the API server does for resourceVersion 0 / unset
            objects = api.selected(request, resource)
            lines = []
            for obj, row in zip(objects, api.rows(resource, objects), strict=True):
                lines.append(event("ADDED", row, not lines))
                sent[object_key(obj)] = int(row["metadata"]["resourceVersion"])
            if lines:
                first = False
                yield b"".join(lines)
        while True:
            lines = []
            current = {object_key(obj): (obj, row) for obj, row in
                       _rows(api, request, resource)}
            for change in stamps.changes_after(cursor):  # every write, even one undone before this tick
                cursor = change.resource_version
                if not api.watches(request, resource, change.key, change.body):
                    continue
                if change.resource_version <= sent.get(change.key, 0):
                    continue
                kind = {"added": "ADDED", "modified": "MODIFIED", "deleted": "DELETED"}[change.event]
                shown = current.get(change.key)
                row = shown[1] if shown is not None and change.event != "deleted" else change.body
                lines.append(event(kind, row, first and not lines))
                if change.event == "deleted":
                    sent.pop(change.key, None)
                else:
                    sent[change.key] = int(row["metadata"]["resourceVersion"])
            for key, (_, row) in current.items():  # status changes: a new resourceVersion, no write
                version = int(row["metadata"]["resourceVersion"])
                if version > sent.get(key, since or 0):
                    lines.append(event("MODIFIED" if key in sent or since is not None else "ADDED", row,
                                       first and not lines))
                    sent[key] = version
            cursor = max(cursor, stamps.revision)
            if lines:
                first = False
                yield b"".join(lines)
            elif bookmarks and time.monotonic() - last_bookmark > _BOOKMARK_S:
                last_bookmark = time.monotonic()
                mark = {"kind": resource.kind, "apiVersion": resource.api_version,
                        "metadata": {"resourceVersion": str(cursor)}}
                yield (json.dumps({"type": "BOOKMARK", "object": mark}) + "\n").encode("utf-8")
            if deadline is not None and time.monotonic() >= deadline:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(api.stopping.wait(), _TICK_S)
            if api.stopping.is_set():
                return

    return StreamingResponse(stream(), media_type="application/json")
