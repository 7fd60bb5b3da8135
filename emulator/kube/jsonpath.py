"""The JSONPath subset of CRD printer columns: `.a.b`, `[*]`, `[0]` and `[?(@.key=='value')]` filters.

`first` gives what the API server's table convertor shows: the first result only, None when there is none.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

__all__ = ["evaluate", "first"]

_STEP = re.compile(r"\.(?P<key>[A-Za-z0-9_-]+)|\[(?P<index>\*|\d+)\]|\[\?\(@\.(?P<field>[A-Za-z0-9_.-]+)"
                   r"\s*==\s*(?P<value>'[^']*'|\"[^\"]*\"|true|false|-?\d+)\)\]")


@lru_cache(maxsize=64)
def _steps(path: str) -> tuple[tuple[str, Any], ...]:
    steps, position = [], 0
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {path[position:]!r}")
        if match["key"] is not None:
            steps.append(("key", match["key"]))
        elif match["index"] is not None:
            steps.append(("all", None) if match["index"] == "*" else ("index", int(match["index"])))
        else:
            raw = match["value"]
            value = raw[1:-1] if raw[0] in "'\"" else json.loads(raw)
            steps.append(("filter", (tuple(match["field"].split(".")), value)))
        position = match.end()
    return tuple(steps)


def _lookup(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def evaluate(obj: Any, path: str) -> list[Any]:
    """Every value `path` selects in `obj`."""
    current = [obj]
    for kind, argument in _steps(path):
        selected: list[Any] = []
        for value in current:
            if kind == "key" and isinstance(value, dict) and argument in value:
                selected.append(value[argument])
            elif kind == "all" and isinstance(value, list):
                selected += value
            elif kind == "index" and isinstance(value, list) and argument < len(value):
                selected.append(value[argument])
            elif kind == "filter" and isinstance(value, list):
                keys, wanted = argument
                selected += [item for item in value if _lookup(item, keys) == wanted]
        current = selected
    return current


def first(obj: Any, path: str) -> Any:
    found = evaluate(obj, path)
    return found[0] if found else None
