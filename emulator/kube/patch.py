"""PATCH bodies applied to an object, by Content-Type: JSON merge patch (RFC 7386), JSON patch (RFC 6902),
strategic merge patch and server-side apply.

Strategic merge patch is served for the core kinds (Secrets), whose fields are all maps or scalars, where it
is the merge patch (no list merge keys to honour). Server-side apply here merges the applied configuration into
the live object and reports conflicts with other appliers' fields (see `apply_conflicts`); it does not remove
fields a manager stops applying (the emulator's simplification, docs/kubernetes-api.md).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

__all__ = [
    "APPLY",
    "JSON_PATCH",
    "MERGE",
    "STRATEGIC",
    "PatchError",
    "apply_conflicts",
    "apply_patch",
    "leaf_paths",
    "merge_patch",
]

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


class PatchError(ValueError):
    pass


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(media_type: str, live: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The object after the patch; PatchError naming the problem when it does not apply."""
    if media_type in (MERGE, STRATEGIC, APPLY):
        if not isinstance(patch, dict):
            raise PatchError("the patch must be a JSON object")
        if media_type == STRATEGIC and any(key.startswith("$") for key in _keys(patch)):
            raise PatchError("strategic merge patch directives ($patch, $retainKeys…) are not supported")
        return merge_patch(live, patch)
    if media_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise PatchError("a JSON patch must be a list of operations")
        try:
            result = jsonpatch.JsonPatch(patch).apply(live)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
            raise PatchError(f"the JSON patch does not apply: {exc}") from None
        if not isinstance(result, dict):
            raise PatchError("the JSON patch does not leave an object")
        return result
    raise PatchError(f"unsupported patch type {media_type}")


def _keys(value: Any) -> list[str]:
    if not isinstance(value, dict):
        return []
    return [key for key, item in value.items() for key in (key, *_keys(item))]


def leaf_paths(body: Any, prefix: str = "") -> dict[str, Any]:
    """`.spec.predictor.model.storage.path` → value for every leaf (lists are leaves), metadata's name,
    namespace, apiVersion and kind left out."""
    if not isinstance(body, dict) or not body:
        return {prefix: body} if prefix else {}
    paths: dict[str, Any] = {}
    for key, value in body.items():
        if not prefix and key in ("apiVersion", "kind", "status"):
            continue
        if prefix == ".metadata" and key not in ("labels", "annotations"):
            continue
        paths |= leaf_paths(value, f"{prefix}.{key}")
    return paths


def apply_conflicts(applied: dict[str, Any], live: dict[str, Any], others: dict[str, dict[str, Any]]
                    ) -> list[tuple[str, str]]:
    """(manager, path) for each field `applied` would change that another applier set: what SSA calls a
    conflict. `others` maps each other Apply manager to the body it last applied."""
    live_leaves = leaf_paths(live)
    conflicts = []
    for path, value in leaf_paths(applied).items():
        if live_leaves.get(path, value) == value:
            continue
        for manager, body in sorted(others.items()):
            if path in leaf_paths(body):
                conflicts.append((manager, path))
    return conflicts
