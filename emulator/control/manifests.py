"""Apply and delete manifests, remembering which watched file each object came from.

Every change made through the management API or the file watcher goes through `ManifestSync`, so a watched
file that drops an object (or disappears) deletes exactly the objects it still owns: not one that another
file defines too, nor one re-applied through the API since.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import SpecError
from ..kube.objects import ObjectKey
from ..kube.resources import Resource, resource_for_kind
from ..registry import ObjectNotFoundError, Registry
from ..spec import DEFAULT_MAX_MANIFEST_BYTES, Manifest, load_file, load_json, load_text, parse_document
from .context import object_key
from .kube_status import AlreadyExistsError, NotFoundError

__all__ = ["ManifestSync", "Outcome"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What happened to one object: created, configured, unchanged or deleted; or why it failed."""

    kind: str
    name: str
    namespace: str | None
    action: str | None = None
    error: str | None = None
    reason: str | None = None
    """Kubernetes Status reason of the error: NotFound, Invalid…"""

    @property
    def resource(self) -> Resource:
        return resource_for_kind(self.kind)

    def line(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        if self.action == "deleted":
            return f'{self.resource.qualified} "{self.name}" deleted'
        return self.resource.line(self.name, self.action or "")

    def to_json(self) -> dict[str, str | None]:
        body = {"kind": self.kind, "name": self.name, "namespace": self.namespace, "line": self.line()}
        return body | ({"error": self.error, "reason": self.reason} if self.error else {"action": self.action})


class ManifestSync:
    def __init__(self, registry: Registry, *, built_in_server_types: Sequence[str], storage_secret_name: str,
                 max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES):
        self._registry = registry
        self._server_types = built_in_server_types
        self._secret_name = storage_secret_name
        self._max_bytes = max_manifest_bytes
        self._owner: dict[ObjectKey, str] = {}
        """The watched file that last applied each object."""

    @property
    def max_manifest_bytes(self) -> int:
        return self._max_bytes

    # ---- parsing ----------------------------------------------------------------------------------

    def parse_text(self, text: str, source: str, namespace: str | None = None, path: str | None = None
                   ) -> list[Manifest]:
        """All objects in a YAML text; SpecError (file, document, field) when any document is invalid.

        `source` names the text in messages; `path`, when the text is a file's, is where the objects say they
        come from, so paths in them (`modelmesh-emulator/source`) resolve against the file's directory.
        """
        manifests = load_text(text, source, built_in_server_types=self._server_types,
                              storage_secret_name=self._secret_name, max_bytes=self._max_bytes)
        if path is not None:
            for obj in manifests:
                obj.source = path
        return self._in_namespace(manifests, namespace, source)

    def parse_file(self, path: Path) -> list[Manifest]:
        return load_file(path, built_in_server_types=self._server_types, storage_secret_name=self._secret_name,
                         max_bytes=self._max_bytes)

    def parse_json(self, text: str, source: str, namespace: str | None = None) -> list[Manifest]:
        """The objects in a JSON text (one document; several for a `List`), within the same bounds as YAML."""
        manifests = load_json(text, source, built_in_server_types=self._server_types,
                              storage_secret_name=self._secret_name, max_bytes=self._max_bytes)
        return self._in_namespace(manifests, namespace, source)

    def parse_raw(self, raw: object, source: str, namespace: str | None = None) -> list[Manifest]:
        """The objects in one decoded JSON/YAML document (several for a `List`)."""
        manifests = parse_document(raw, source=source, built_in_server_types=self._server_types,
                                   storage_secret_name=self._secret_name)
        return self._in_namespace(manifests, namespace, source)

    @staticmethod
    def _in_namespace(manifests: list[Manifest], namespace: str | None, source: str | None) -> list[Manifest]:
        if namespace is None:
            return manifests
        placed = []
        for obj in manifests:
            if obj.kind == "ClusterServingRuntime":
                placed.append(obj)
            elif obj.metadata.namespace in (None, namespace):
                obj.metadata = obj.metadata.model_copy(update={"namespace": namespace})
                placed.append(obj)
            else:
                raise SpecError(f'the namespace from the provided object "{obj.metadata.namespace}" does not '
                                f'match the namespace "{namespace}"', source=source, obj=obj.display_name,
                                field="metadata.namespace")
        return placed

    # ---- changes ----------------------------------------------------------------------------------

    def apply(self, manifests: Sequence[Manifest], origin: str | None = None) -> list[Outcome]:
        """`kubectl apply` each object; `origin` is the watched file they come from (None: the API)."""
        outcomes = []
        for manifest in manifests:
            try:
                result = self._registry.apply(manifest)
            except SpecError as exc:
                outcomes.append(Outcome(manifest.kind, manifest.metadata.name, manifest.metadata.namespace,
                                        error=exc.message, reason="Invalid"))
                continue
            key = object_key(result.obj)
            if origin is None:
                self._owner.pop(key, None)
            else:
                self._owner[key] = origin
            outcomes.append(Outcome(result.obj.kind, result.obj.metadata.name, result.obj.metadata.namespace,
                                    result.action))
        return outcomes

    def create(self, manifest: Manifest) -> Manifest:
        resource = resource_for_kind(manifest.kind)
        if self._registry.get(manifest.kind, manifest.metadata.name, manifest.metadata.namespace) is not None:
            raise AlreadyExistsError(f'{resource.qualified_plural} "{manifest.metadata.name}" already exists')
        return self._apply_one(manifest)

    def replace(self, manifest: Manifest) -> Manifest:
        self.get(manifest.kind, manifest.metadata.name, manifest.metadata.namespace)
        return self._apply_one(manifest)

    def _apply_one(self, manifest: Manifest) -> Manifest:
        result = self._registry.apply(manifest)
        self._owner.pop(object_key(result.obj), None)
        return result.obj

    def get(self, kind: str, name: str, namespace: str | None) -> Manifest:
        obj = self._registry.get(kind, name, namespace)
        if obj is None:
            raise NotFoundError(f'{resource_for_kind(kind).qualified_plural} "{name}" not found')
        return obj

    def delete(self, kind: str, name: str, namespace: str | None) -> Outcome:
        """Delete one object; NotFoundError (with Kubernetes' message) when there is none."""
        try:
            obj = self._registry.delete(kind, name, namespace)
        except ObjectNotFoundError:
            raise NotFoundError(f'{resource_for_kind(kind).qualified_plural} "{name}" not found') from None
        self._owner.pop(object_key(obj), None)
        return Outcome(obj.kind, obj.metadata.name, obj.metadata.namespace, "deleted")

    def delete_all(self, manifests: Sequence[Manifest]) -> list[Outcome]:
        """`kubectl delete -f`: each object named; a missing one is reported and the rest deleted."""
        outcomes = []
        for manifest in manifests:
            try:
                outcomes.append(self.delete(manifest.kind, manifest.metadata.name, manifest.metadata.namespace))
            except NotFoundError as exc:
                outcomes.append(Outcome(manifest.kind, manifest.metadata.name, manifest.metadata.namespace,
                                        error=exc.message, reason="NotFound"))
        return outcomes

    # ---- watched files ----------------------------------------------------------------------------

    def owned_by(self, origin: str) -> list[ObjectKey]:
        return [key for key, owner in self._owner.items() if owner == origin]

    def sync(self, origin: str, manifests: Sequence[Manifest]) -> list[Outcome]:
        """Apply a watched file's objects, then delete those it owned and no longer defines."""
        before = set(self.owned_by(origin))
        outcomes = self.apply(manifests, origin)
        kept = {self._stored_key(obj) for obj in manifests}
        return outcomes + self._delete_keys(sorted(before - kept, key=_deletion_order))

    def forget(self, origin: str) -> list[Outcome]:
        """A watched file is gone: delete the objects it still owns."""
        return self._delete_keys(sorted(self.owned_by(origin), key=_deletion_order))

    def _stored_key(self, obj: Manifest) -> ObjectKey:
        """The key the registry keeps `obj` under (namespace filled in)."""
        if obj.kind == "ClusterServingRuntime":
            return obj.kind, None, obj.metadata.name
        return obj.kind, obj.metadata.namespace or self._registry.default_namespace, obj.metadata.name

    def _delete_keys(self, keys: Sequence[ObjectKey]) -> list[Outcome]:
        outcomes = []
        for kind, namespace, name in keys:
            self._owner.pop((kind, namespace, name), None)
            try:
                outcomes.append(self.delete(kind, name, namespace))
            except NotFoundError:
                log.debug("%s %s/%s was already deleted", kind, namespace, name)
        return outcomes


def _deletion_order(key: ObjectKey) -> tuple[int, str, str]:
    """Models before the runtimes and Secrets they use."""
    kind, namespace, name = key
    return (0 if kind in ("InferenceService", "Predictor") else 1), namespace or "", name
