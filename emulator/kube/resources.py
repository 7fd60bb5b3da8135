"""The resources of the management API, named and addressed as the Kubernetes API names them.

One table (`RESOURCES`) for the emulator's custom resources (upstream's CRD names) and the core v1 kinds it
serves; discovery, OpenAPI, routes and the CLI all read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidArgumentError

__all__ = ["RESOURCES", "Resource", "resource_for", "resource_for_kind"]


@dataclass(frozen=True)
class Resource:
    kind: str
    plural: str
    group: str
    """API group; "" for the core group (Secrets)."""
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    """Upstream's CRD gives the kind a `/status` subresource (writes to the object keep its status)."""
    categories: tuple[str, ...] = ()

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def verbs(self) -> tuple[str, ...]:
        return ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`inferenceservice.serving.kserve.io`: how kubectl names the type in `…/name created` lines."""
        singular = self.kind.lower()
        return f"{singular}.{self.group}" if self.group else singular

    @property
    def qualified_plural(self) -> str:
        """`inferenceservices.serving.kserve.io`: how Kubernetes names the type in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection_path(self, namespace: str | None) -> str:
        """`/apis/<group>/<version>[/namespaces/<ns>]/<plural>`; namespace None lists every namespace."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"

    def object_path(self, name: str, namespace: str | None) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    def line(self, name: str, action: str) -> str:
        """kubectl's apply line: `inferenceservice.serving.kserve.io/x created`."""
        return f"{self.qualified}/{name} {action}"


RESOURCES: tuple[Resource, ...] = (
    Resource("InferenceService", "inferenceservices", "serving.kserve.io", "v1beta1", True, ("isvc",),
             status_subresource=True),
    Resource("ServingRuntime", "servingruntimes", "serving.kserve.io", "v1alpha1", True),
    Resource("ClusterServingRuntime", "clusterservingruntimes", "serving.kserve.io", "v1alpha1", False),
    Resource("Predictor", "predictors", "serving.kserve.io", "v1alpha1", True, status_subresource=True),
    Resource("Secret", "secrets", "", "v1", True),
)

_BY_NAME = {
    name: resource
    for resource in RESOURCES
    for name in (resource.kind.lower(), resource.plural, resource.qualified, resource.qualified_plural,
                 *resource.short_names)
}
_BY_KIND = {resource.kind: resource for resource in RESOURCES}


def resource_for(name: str) -> Resource:
    """The resource a kubectl user means by `isvc`, `inferenceservices`, `InferenceService`, `secret`…"""
    resource = _BY_NAME.get(name.lower())
    if resource is None:
        raise InvalidArgumentError(f'the server doesn\'t have a resource type "{name}"')
    return resource


def resource_for_kind(kind: str) -> Resource:
    return _BY_KIND[kind]
