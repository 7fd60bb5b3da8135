"""`?watch=true`: ADDED / MODIFIED / DELETED (and BOOKMARK) events, one JSON object per line, as objects or as
one-row Tables (the first carrying the column definitions), until the client leaves, `timeoutSeconds` pass or
the emulator stops.

Changes are found by rendering the watched objects every half second and comparing resourceVersions; rendering
is also what gives a status change (Loading → Loaded) its new resourceVersion (kube.objects), so each status
change is one MODIFIED event.
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
from ..kube.resources import Resource
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


def watch_response(api: KubeApi, request: Request, resource: Resource) -> StreamingResponse:
    since, timeout = _since(request), _timeout(request)
    as_table = wants_table(request.headers.get("accept"))
    include = request.query_params.get("includeObject", "Metadata")
    bookmarks = request.query_params.get("allowWatchBookmarks") == "true"
    api.selected(request, resource)  # a bad selector is a 400 before streaming starts

    def event(kind: str, row: dict[str, Any], first: bool) -> bytes:
        if as_table:
            obj: dict[str, Any] = table(resource, [row], resource_version=row["metadata"]["resourceVersion"],
                                        include_object=include, with_columns=first)
        else:
            obj = {key: value for key, value in row.items() if key not in ("placement", "instances")}
        return (json.dumps({"type": kind, "object": obj}) + "\n").encode("utf-8")

    async def stream() -> AsyncIterator[bytes]:
        sent: dict[str, tuple[str, dict[str, Any]]] = {}
        first = True
        deadline = time.monotonic() + timeout if timeout is not None else None
        last_bookmark = time.monotonic()
        while True:
            objects = api.selected(request, resource)
            rows = {f"{obj.metadata.namespace}/{obj.metadata.name}": row
                    for obj, row in zip(objects, api.rows(resource, objects), strict=True)}
            lines = []
            for key, row in rows.items():
                version = row["metadata"]["resourceVersion"]
                previous = sent.get(key)
                if previous is None:
                    created = int(row["metadata"].get("resourceVersion", "0"))
                    if first and since is not None and created <= since:
                        sent[key] = (version, row)
                        continue
                    lines.append(event("ADDED", row, first and not lines))
                elif previous[0] != version:
                    lines.append(event("MODIFIED", row, first and not lines))
                sent[key] = (version, row)
            for key in [key for key in sent if key not in rows]:
                _, row = sent.pop(key)
                gone = row | {"metadata": row["metadata"] | {"resourceVersion": api.revision}}
                lines.append(event("DELETED", gone, first and not lines))
            if lines:
                first = False
                yield b"".join(lines)
            elif bookmarks and time.monotonic() - last_bookmark > _BOOKMARK_S:
                last_bookmark = time.monotonic()
                mark = {"kind": resource.kind, "apiVersion": resource.api_version,
                        "metadata": {"resourceVersion": api.revision}}
                yield (json.dumps({"type": "BOOKMARK", "object": mark}) + "\n").encode("utf-8")
            if deadline is not None and time.monotonic() >= deadline:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(api.stopping.wait(), _TICK_S)
            if api.stopping.is_set():
                return

    return StreamingResponse(stream(), media_type="application/json")
