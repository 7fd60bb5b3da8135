"""Discovery documents, as kubectl 1.32 reads them: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>`,
`/apis/<group>/<version>` (the legacy, non-aggregated form: kubectl falls back to it when the answer's
Content-Type is plain `application/json`)."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import Any

from .resources import RESOURCES, Resource

__all__ = ["api_group", "api_group_list", "api_resource_list", "api_versions", "group_versions", "version_info"]

_PREFERRED = {"serving.kserve.io": "v1beta1"}
_CORE_EXTRA = (
    # Namespaces are listed so kubectl can resolve `-n`/`namespace` names; events so `describe` finds none.
    {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
     "verbs": ["delete", "get", "list"], "shortNames": ["ns"]},
    {"name": "events", "singularName": "event", "namespaced": True, "kind": "Event", "verbs": ["get", "list", "watch"],
     "shortNames": ["ev"]},
    # Runtime instances (emulator/control/pods.py).
    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ["delete", "get", "list"],
     "shortNames": ["po"], "categories": ["all"]},
    {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    # The model-serving-config ConfigMap only (emulator/control/configmap_api.py).
    {"name": "configmaps", "singularName": "configmap", "namespaced": True, "kind": "ConfigMap",
     "verbs": ["create", "delete", "get", "list", "patch", "update"], "shortNames": ["cm"]},
)
_EVENTS_GROUP = "events.k8s.io"
_EVENTS_V1 = {"name": "events", "singularName": "event", "namespaced": True, "kind": "Event",
              "verbs": ["get", "list", "watch"]}  # no short name: `ev` is the core group's, as on a cluster


def version_info(emulator_version: str) -> dict[str, str]:
    """`/version`: a Kubernetes 1.32 API server (kubectl 1.32 warns about skew beyond ±1 minor)."""
    return {"major": "1", "minor": "32", "gitVersion": f"v1.32.0-modelmesh-emulator.{emulator_version}",
            "gitCommit": "", "gitTreeState": "clean", "buildDate": "", "goVersion": "",
            "compiler": "python", "platform": f"{platform.system().lower()}/{platform.machine()}"}


def group_versions(group: str) -> list[str]:
    if group == _EVENTS_GROUP:
        return ["v1"]
    versions = sorted({r.version for r in RESOURCES if r.group == group})
    preferred = _PREFERRED.get(group)
    return sorted(versions, key=lambda v: v != preferred)


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}


def api_group(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in group_versions(group)]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    groups = sorted({r.group for r in RESOURCES if r.group} | {_EVENTS_GROUP})
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{key: value for key, value in api_group(g).items() if key not in ("kind", "apiVersion")}
                       for g in groups]}


def _entries(resource: Resource) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"name": resource.plural, "singularName": resource.singular,
                             "namespaced": resource.namespaced, "kind": resource.kind, "verbs": list(resource.verbs)}
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    entries = [entry]
    if resource.status_subresource:
        entries.append({"name": f"{resource.plural}/status", "singularName": "", "namespaced": resource.namespaced,
                        "kind": resource.kind, "verbs": ["get", "patch", "update"]})
    return entries


def api_resource_list(group: str, version: str, resources: Sequence[Resource] = RESOURCES) -> dict[str, Any] | None:
    """`APIResourceList` of a group version; None when the emulator serves no such group version."""
    if (group, version) == (_EVENTS_GROUP, "v1"):
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}",
                "resources": [dict(_EVENTS_V1)]}
    chosen = [r for r in resources if r.group == group and r.version == version]
    if not chosen:
        return None
    entries = [entry for resource in chosen for entry in _entries(resource)]
    if group == "":
        entries += [dict(extra) for extra in _CORE_EXTRA]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": entries}
