"""The part of Kubernetes' downward API a runtime container's env can use here: `resourceFieldRef`."""

from __future__ import annotations

from ..spec import Container, ServingRuntime
from ..spec.quantity import to_bytes, to_millicores

__all__ = ["resource_field_value"]


def resource_field_value(runtime: ServingRuntime, value_from: dict[str, object], own: Container) -> str | None:
    """The downward API's `resourceFieldRef` for memory (bytes) and cpu (cores, rounded up) of the named
    container, else of `own` (the container whose env it is); None for anything else or an unset resource."""
    ref = value_from.get("resourceFieldRef")
    if not isinstance(ref, dict):
        return None
    kind, _, resource = str(ref.get("resource", "")).partition(".")
    container = runtime.spec.container(str(ref.get("containerName") or "")) or own
    quantities = container.resources.requests if kind == "requests" else container.resources.limits
    if kind not in ("requests", "limits") or resource not in quantities:
        return None
    if resource == "memory":
        return str(to_bytes(quantities[resource]))
    if resource == "cpu":
        return str(-(-to_millicores(quantities[resource]) // 1000))
    return None
