"""kubectl's output formats: aligned tables, `-o yaml|json|name`, and byte sizes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

__all__ = ["as_list", "columns", "dump", "human_bytes", "print_table"]

_PADDING = 3
_MIN_WIDTH = 6


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def columns(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl's tabwriter prints them."""
    cells = [[_cell(value) for value in row] for row in [headers, *rows]]
    widths = [max(_MIN_WIDTH - _PADDING, *(len(row[i]) for row in cells)) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [value.ljust(width + _PADDING) for value, width in zip(row[:-1], widths, strict=False)]
        lines.append(("".join(padded) + row[-1]).rstrip())
    return "\n".join(lines)


def print_table(table: dict[str, Any], *, wide: bool, namespace_column: bool) -> str:
    """A `meta.k8s.io/v1` Table as kubectl prints it; `wide` adds the priority 1 columns."""
    shown = [i for i, column in enumerate(table["columnDefinitions"]) if wide or column.get("priority", 0) == 0]
    headers = [table["columnDefinitions"][i]["name"].upper() for i in shown]
    rows = [[row["cells"][i] for i in shown] for row in table["rows"]]
    if namespace_column:
        headers.insert(0, "NAMESPACE")
        for row, source in zip(rows, table["rows"], strict=True):
            row.insert(0, source["object"]["metadata"].get("namespace", ""))
    return columns(headers, rows)


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Several objects as kubectl prints them with -o yaml/json: a `v1` `List`."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def dump(obj: dict[str, Any], output: str) -> str:
    if output == "json":
        return json.dumps(obj, indent=4)
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).rstrip("\n")


def human_bytes(size: int | None) -> str:
    value, unit = float(size or 0), "B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{int(value)}B" if unit == "B" else f"{value:.1f}{unit}"
