"""`describe`: an object as kubectl describes a custom resource, plus where the emulator placed its model."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .printer import columns, human_bytes
from .tables import human_duration

__all__ = ["describe"]

_ACRONYMS = {"url": "URL", "uri": "URI", "id": "ID", "api": "API", "grpc": "gRPC", "http": "HTTP", "rest": "REST",
              "uid": "UID"}
_HEAD = ("name", "namespace", "labels", "annotations")
_PLACEMENT_WIDTH = len("Target Model:") + 2


def _title(key: str) -> str:
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key).split()
    return " ".join(_ACRONYMS.get(word.lower(), word[:1].upper() + word[1:]) for word in words)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _block(mapping: dict[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    width = max((len(_title(k)) for k, v in mapping.items() if not isinstance(v, dict | list)), default=0) + 1
    lines: list[str] = []
    for key, value in sorted(mapping.items()):  # kubectl walks maps in key order
        label = f"{_title(key)}:"
        if isinstance(value, dict):
            lines.append(pad + label)
            lines += _block(value, indent + 2)
        elif isinstance(value, list):
            lines.append(pad + label)
            for item in value:
                lines += _block(item, indent + 2) if isinstance(item, dict) else [f"{pad}  {_scalar(item)}"]
        else:
            lines.append(f"{pad}{label.ljust(width)}  {_scalar(value)}".rstrip())
    return lines


def _pairs(values: dict[str, str]) -> list[str]:
    return [f"{key}: {value}" for key, value in sorted(values.items())] or ["<none>"]


def _labelled(label: str, value: str) -> str:
    """A line of the Placement section, its values aligned as kubectl's tabwriter aligns them."""
    return f"  {label + ':':<{_PLACEMENT_WIDTH}}{value}"


def _model(label: str, model: dict[str, Any] | None) -> list[str]:
    if model is None:
        return [_labelled(label, "<none>")]
    size = model.get("sizeBytes") or 0
    lines = [_labelled(label, model["modelId"]),
             f"    State:  {model['state']}" + (f", {size} bytes ({human_bytes(size)})" if size else "")]
    if model.get("nextRetry"):
        lines.append(f"    Next Retry:  {model['nextRetry']} (when the failure record expires; requests get the "
                     "failure until then)")
    if model["copies"]:
        rows = [[c["instance"], c["runtime"], c["state"], human_bytes(c["sizeBytes"])] for c in model["copies"]]
        lines += ["    " + line for line in columns(["INSTANCE", "RUNTIME", "STATE", "SIZE"], rows).splitlines()]
    else:
        lines.append("    Instances:  <none>")
    for copy in model["copies"]:
        lines += _files(copy)
    return lines


def _files(copy: dict[str, Any]) -> list[str]:
    """What the adapter wrote for the copy in its instance (the emulator's view into the runtime's model dir)."""
    if not copy.get("files"):
        return []
    lines = [f"    Files in {copy['instance']}:"]
    for entry in copy["files"]:
        detail = f" -> {entry['linkTo']}" if "linkTo" in entry else f"  ({human_bytes(entry.get('sizeBytes', 0))})"
        lines.append(f"      {entry['path']}{detail}")
        if "content" in entry:
            lines += [f"        {line}" for line in entry["content"].rstrip().splitlines()]
    return lines


def _placement(placement: dict[str, Any]) -> list[str]:
    lines = ["Placement:", _labelled("Model Type", placement.get("modelType") or "<none>")]
    if placement.get("specError"):
        lines.append(_labelled("Spec Error", placement["specError"]))
    return lines + _model("Active Model", placement.get("active")) + _model("Target Model", placement.get("target"))


def _events(events: list[dict[str, Any]]) -> list[str]:
    """kubectl describe's Events table: type, reason, age (`x3 over 5m` for repeats), source, message."""
    now = datetime.now(UTC)

    def age(stamp: str) -> str:
        return human_duration((now - datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
                              .total_seconds())

    headers = ["Type", "Reason", "Age", "From", "Message"]
    rows = [["-" * len(header) for header in headers]]
    for event in sorted(events, key=lambda e: e["lastTimestamp"]):
        when = age(event["lastTimestamp"])
        if event.get("count", 1) > 1:
            when += f" (x{event['count']} over {age(event['firstTimestamp'])})"
        rows.append([event["type"], event["reason"], when, event["source"]["component"], event["message"]])
    return ["  " + line for line in columns(headers, rows).splitlines()]


def describe(obj: dict[str, Any], placement: dict[str, Any] | None = None,
             events: list[dict[str, Any]] | None = None) -> str:
    meta = obj["metadata"]
    head = [("Name", meta["name"])]
    if meta.get("namespace"):
        head.append(("Namespace", meta["namespace"]))
    lines = []
    for label, values in (("Labels", _pairs(meta.get("labels") or {})),
                          ("Annotations", _pairs(meta.get("annotations") or {}))):
        head.append((label, values[0]))
        head += [("", value) for value in values[1:]]
    head += [("API Version", obj["apiVersion"]), ("Kind", obj["kind"])]
    width = max(len(label) for label, _ in head) + 2
    lines += [(f"{label}:" if label else "").ljust(width) + value for label, value in head]
    rest = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind", "metadata")}
    extra_meta = {key: value for key, value in meta.items() if key not in _HEAD}
    lines += _block({"metadata": extra_meta, **rest} if extra_meta else rest, 0)
    if placement is not None:
        lines += _placement(placement)
    if events:
        lines += ["Events:", *_events(events)]
    else:
        lines.append("Events:".ljust(width) + "<none>")
    return "\n".join(lines)
