"""`labelSelector` and `fieldSelector` of list and watch requests, in the API server's syntax."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["SelectorError", "matcher"]

_FIELDS = ("metadata.name", "metadata.namespace")
_SET = re.compile(r"^\s*(?P<key>[^\s!=,()]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_COMPARE = re.compile(r"^\s*(?P<key>[^\s!=,()]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=,()]*)\s*$")
_EXISTS = re.compile(r"^\s*(?P<not>!?)\s*(?P<key>[^\s!=,()]+)\s*$")

Predicate = Callable[[dict[str, Any]], bool]


class SelectorError(ValueError):
    pass


def _split(selector: str) -> list[str]:
    """Requirements separated by commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


def _label_requirement(text: str) -> Predicate:
    if match := _SET.match(text):
        values = {value.strip() for value in match["values"].split(",") if value.strip()}
        key, within = match["key"], match["op"] == "in"
        return lambda labels: (labels.get(key) in values) == within if within else labels.get(key) not in values
    if match := _COMPARE.match(text):
        key, value, equal = match["key"], match["value"], match["op"] != "!="
        return lambda labels: (labels.get(key) == value) == equal
    if match := _EXISTS.match(text):
        key, present = match["key"], not match["not"]
        return lambda labels: (key in labels) == present
    raise SelectorError(f'unable to parse requirement: "{text.strip()}"')


def _field_value(body: dict[str, Any], path: str) -> str:
    value: Any = body
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _field_requirement(text: str, known: tuple[str, ...]) -> Predicate:
    match = _COMPARE.match(text)
    if match is None or match["key"] not in known:
        raise SelectorError(f'"{text.strip()}" is not a known field selector: only '
                            + ", ".join(f'"{name}"' for name in known))
    path, value, equal = match["key"], match["value"], match["op"] != "!="
    return lambda body: (_field_value(body, path) == value) == equal


def matcher(label_selector: str | None, field_selector: str | None, known_fields: tuple[str, ...] = _FIELDS
            ) -> Predicate:
    """A predicate on an object body; SelectorError (a 400) for a selector it cannot parse. `known_fields`: the
    dotted paths the kind's fieldSelector accepts (metadata.name and metadata.namespace for most kinds)."""
    labels = [_label_requirement(part) for part in _split(label_selector or "")]
    fields = [_field_requirement(part, known_fields) for part in _split(field_selector or "")]

    def matches(body: dict[str, Any]) -> bool:
        own = (body.get("metadata") or {}).get("labels") or {}
        return all(requirement(own) for requirement in labels) and all(field(body) for field in fields)

    return matches
