"""PATCH bodies applied to an object, by Content-Type: JSON merge patch (RFC 7386), JSON patch (RFC 6902),
strategic merge patch and server-side apply.

Strategic merge patch is served for the core kinds (Secrets), whose fields are all maps or scalars, where it
is the merge patch (no list merge keys to honour). Server-side apply here merges the applied configuration into
the live object, removes the fields a manager stopped applying that no other applier applies (`drop_released`)
and reports conflicts with other appliers' fields (`apply_conflicts`); only appliers' fields count, not those of
Update managers, and lists are atomic (the emulator's simplification, docs/kubernetes-api.md).
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
    "drop_released",
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


def _leaves(body: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every leaf of `body` by its key path (lists are leaves), without apiVersion, kind, status and the
    metadata other than labels and annotations."""
    if not isinstance(body, dict) or not body:
        return {prefix: body} if prefix else {}
    leaves: dict[tuple[str, ...], Any] = {}
    for key, value in body.items():
        if not prefix and key in ("apiVersion", "kind", "status"):
            continue
        if prefix == ("metadata",) and key not in ("labels", "annotations"):
            continue
        leaves |= _leaves(value, (*prefix, key))
    return leaves


def _shown(path: tuple[str, ...]) -> str:
    return "".join(f".{key}" for key in path)


def leaf_paths(body: Any) -> dict[str, Any]:
    """`.spec.predictor.model.storage.path` → value for every leaf (see `_leaves`)."""
    return {_shown(path): value for path, value in _leaves(body).items()}


def apply_conflicts(applied: dict[str, Any], live: dict[str, Any], others: dict[str, dict[str, Any]]
                    ) -> list[tuple[str, str]]:
    """(manager, path) for each field `applied` would change that another applier set: what SSA calls a
    conflict. `others` maps each other Apply manager to the body it last applied."""
    live_leaves = _leaves(live)
    owned = {manager: _leaves(body) for manager, body in sorted(others.items())}
    conflicts = []
    for path, value in _leaves(applied).items():
        if live_leaves.get(path, value) == value:
            continue
        conflicts += [(manager, _shown(path)) for manager, leaves in owned.items() if path in leaves]
    return conflicts


def drop_released(live: dict[str, Any], previous: dict[str, Any], applied: dict[str, Any],
                  others: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`live` without the fields a manager applied before (`previous`) and no longer applies, unless another
    applier (`others`) applies them too: server-side apply's removal of released fields."""
    kept = set(_leaves(applied)).union(*(set(_leaves(body)) for body in others.values()))
    result = copy.deepcopy(live)
    for path in set(_leaves(previous)) - kept:
        _remove(result, path)
    return result


def _remove(body: dict[str, Any], path: tuple[str, ...]) -> None:
    parents = [body]
    for key in path[:-1]:
        child = parents[-1].get(key)
        if not isinstance(child, dict):
            return
        parents.append(child)
    parents[-1].pop(path[-1], None)
    for parent, key in zip(reversed(parents[:-1]), reversed(path[:-1]), strict=False):
        if parent.get(key) == {}:
            del parent[key]
