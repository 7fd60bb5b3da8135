"""Desired state: applied manifests, the models they define, and ModelMesh's runtime selection rules.

Synchronous and free of I/O. Selection follows ModelMesh exactly: a model's type string names the labels a
runtime must advertise (`rt:<runtime>`, or `mt:<format>[:<version>]` plus `pv:<protocol>`), and only enabled
multi-model runtimes advertise any; there is no priority.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .errors import ModelLoadError, ModelNotFoundError, SpecError
from .spec import (
    BUILT_IN_SERVER_TYPES,
    DEFAULT_STORAGE_SECRET_NAME,
    InferenceService,
    InvalidPredictorSpecError,
    Manifest,
    Predictor,
    PredictorSpec,
    ServingRuntime,
    StorageConfigSecret,
    predictor_spec_hash,
    resolve_kind,
    validate_manifest,
)

__all__ = [
    "NO_RUNTIME_LABEL",
    "ApplyResult",
    "ObjectNotFoundError",
    "RegisteredModel",
    "Registry",
    "RuntimeSelectionError",
    "concrete_model_id",
    "model_type_string",
    "required_labels",
    "runtime_labels",
]

NO_RUNTIME_LABEL = "_no_runtime"
"""The label ModelMesh's `_default` type constraint requires; no runtime has it."""

OWNER_BY_KIND = {"InferenceService": "isvc", "Predictor": "ksp"}
MODEL_KINDS = frozenset(OWNER_BY_KIND)
RUNTIME_KINDS = frozenset({"ServingRuntime", "ClusterServingRuntime"})
SOURCE_CONFLICT_MESSAGE = "Predictor already exists with the same name from a different source"

Event = Literal["added", "modified", "deleted"]
Listener = Callable[[str, Manifest], None]


class RuntimeSelectionError(ModelLoadError):
    """No runtime can host the model; `reason` is ModelMesh's status reason."""

    def __init__(self, type_string: str):
        if type_string.startswith("rt:"):
            super().__init__("Specified runtime name not recognized", reason="RuntimeNotRecognized")
        else:
            message = "No ServingRuntime supports specified model type and/or protocol"
            super().__init__(message, reason="NoSupportingRuntime")
        self.type_string = type_string


class ObjectNotFoundError(ModelNotFoundError):
    """get/delete of an object that was never applied (or already deleted)."""


@dataclass(frozen=True)
class RegisteredModel:
    """A vmodel as the controller registers it in ModelMesh."""

    namespace: str
    name: str
    """The vmodel id: the InferenceService or Predictor name."""
    kind: str
    owner: str
    """`isvc` or `ksp`, ModelMesh's vmodel owner (and the concrete id's source tag)."""
    concrete_id: str | None
    """`<name>__<owner>-<10 hex>`; None only when the InferenceService cannot be converted at all."""
    predictor: PredictorSpec | None = field(hash=False)
    spec_error: str | None
    """Why the spec is invalid (status InvalidSpec, reason InvalidPredictorSpec), or None."""
    type_string: str | None
    required_labels: frozenset[str]
    source: InferenceService | Predictor = field(hash=False, repr=False)

    @property
    def vmodel_id(self) -> str:
        return self.name

    @property
    def is_valid(self) -> bool:
        return self.spec_error is None


@dataclass(frozen=True)
class ApplyResult:
    action: Literal["created", "configured", "unchanged"]
    obj: Manifest
    """The stored object (namespace filled in)."""
    model: RegisteredModel | None = None
    previous_concrete_id: str | None = None

    @property
    def concrete_id_changed(self) -> bool:
        """True when a model was reconfigured into a different concrete model (a vmodel transition)."""
        return (
            self.action == "configured"
            and self.model is not None
            and self.model.concrete_id != self.previous_concrete_id
        )


def model_type_string(spec: PredictorSpec) -> str:
    """ModelMesh's model type: `rt:<runtime>`, else `mt:<name>[:<version>][|pv:<protocol>]`."""
    if spec.runtime_name:
        return f"rt:{spec.runtime_name}"
    label = f"mt:{spec.model_type.name}"
    if spec.model_type.version is not None:
        label = f"{label}:{spec.model_type.version}"
    if spec.protocol_version is not None:
        label = f"{label}|pv:{spec.protocol_version}"
    return label


def required_labels(spec: PredictorSpec) -> frozenset[str]:
    """Labels a runtime must advertise to host the model (the type's `required` list in tc-config)."""
    return frozenset(model_type_string(spec).split("|"))


def concrete_model_id(name: str, owner: str, spec: PredictorSpec) -> str:
    return f"{name}__{owner}-{predictor_spec_hash(spec)}"


def _runtime_label_sets(runtime: ServingRuntime, rest_proxy_enabled: bool) -> tuple[set[str], set[str], str]:
    model_type_labels: set[str] = set()
    for model_format in runtime.spec.supported_model_formats:
        if model_format.auto_select:
            model_type_labels.add(f"mt:{model_format.name}")
            if model_format.version is not None:
                model_type_labels.add(f"mt:{model_format.name}:{model_format.version}")
    protocol_labels: set[str] = set()
    for protocol in runtime.spec.protocol_versions:
        protocol_labels.add(f"pv:{protocol}")
        if rest_proxy_enabled and protocol == "grpc-v2":
            protocol_labels.add("pv:v2")
    return model_type_labels, protocol_labels, f"rt:{runtime.name}"


def runtime_labels(runtime: ServingRuntime, *, rest_proxy_enabled: bool = True) -> set[str]:
    """The `MM_LABELS` a runtime's instances advertise."""
    model_type_labels, protocol_labels, runtime_label = _runtime_label_sets(runtime, rest_proxy_enabled)
    return model_type_labels | protocol_labels | {runtime_label}


def _is_selectable(runtime: ServingRuntime) -> bool:
    return runtime.spec.is_multi_model and not runtime.spec.is_disabled


class Registry:
    """Everything applied, by kind and namespace; models and runtime selection derived from it."""

    def __init__(
        self,
        *,
        default_namespace: str = "modelmesh-serving",
        rest_proxy_enabled: bool = True,
        storage_secret_name: str = DEFAULT_STORAGE_SECRET_NAME,
        built_in_server_types: Sequence[str] | None = None,
    ):
        self.default_namespace = default_namespace
        self.rest_proxy_enabled = rest_proxy_enabled
        self.storage_secret_name = storage_secret_name
        self.built_in_server_types = tuple(
            built_in_server_types if built_in_server_types is not None else BUILT_IN_SERVER_TYPES
        )
        self._objects: dict[str, dict[tuple[str | None, str], Manifest]] = {}
        self._models: dict[tuple[str, str, str], RegisteredModel] = {}  # (kind, namespace, name)
        self._vmodel_owner_kind: dict[tuple[str, str], str] = {}  # (namespace, name) → kind
        self._selectable_cache: dict[str, builtins.list[tuple[ServingRuntime, frozenset[str]]]] = {}
        self._listeners: builtins.list[Listener] = []

    # ---- changes ----------------------------------------------------------------------------------

    def apply(self, manifest: Manifest) -> ApplyResult:
        """Create or update an object, as `kubectl apply`. Raises SpecError for what the emulator refuses."""
        try:
            validate_manifest(
                manifest,
                built_in_server_types=self.built_in_server_types,
                storage_secret_name=self.storage_secret_name,
            )
        except SpecError as exc:
            raise SpecError(
                exc.cause, source=manifest.source, document=manifest.document, field=exc.field, obj=exc.obj
            ) from None
        obj = self._normalized(manifest)
        key = (obj.namespace, obj.name)
        stored = self._objects.setdefault(obj.kind, {})
        existing = stored.get(key)
        previous_model = self._models.get((obj.kind, *key)) if obj.kind in MODEL_KINDS else None
        previous_concrete_id = previous_model.concrete_id if previous_model is not None else None
        if existing is not None and existing == obj:
            return ApplyResult("unchanged", existing, previous_model, previous_concrete_id)
        stored[key] = obj
        model = None
        if isinstance(obj, InferenceService | Predictor):
            model = self._register_model(obj)
        if obj.kind in RUNTIME_KINDS:
            self._selectable_cache.clear()
        self._emit("added" if existing is None else "modified", obj)
        return ApplyResult("created" if existing is None else "configured", obj, model, previous_concrete_id)

    def delete(self, kind: str, name: str, namespace: str | None = None) -> Manifest:
        """Remove an object and return it; ObjectNotFoundError when there is none."""
        kind = resolve_kind(kind)
        key = (self._namespace_for(kind, namespace), name)
        obj = self._objects.get(kind, {}).pop(key, None)
        if obj is None:
            raise ObjectNotFoundError(self._not_found_message(kind, *key))
        promoted = None
        if kind in MODEL_KINDS and obj.namespace is not None:
            promoted = self._unregister_model(kind, obj.namespace, name)
        if kind in RUNTIME_KINDS:
            self._selectable_cache.clear()
        self._emit("deleted", obj)
        if promoted is not None:
            self._emit("modified", promoted)
        return obj

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call `callback(event, obj)` on each change ("added", "modified", "deleted").

        Returns a function that unsubscribes.
        """
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    # ---- objects ----------------------------------------------------------------------------------

    def get(self, kind: str, name: str, namespace: str | None = None) -> Manifest | None:
        kind = resolve_kind(kind)
        return self._objects.get(kind, {}).get((self._namespace_for(kind, namespace), name))

    def list(self, kind: str, namespace: str | None = None) -> builtins.list[Manifest]:
        """Objects of a kind sorted by namespace and name; namespace None lists every namespace."""
        kind = resolve_kind(kind)
        objects = self._objects.get(kind, {})
        if namespace is not None and kind != "ClusterServingRuntime":
            found = [obj for (ns, _), obj in objects.items() if ns == namespace]
        else:
            found = list(objects.values())
        return sorted(found, key=lambda obj: (obj.namespace or "", obj.name))

    def storage_config(self, namespace: str | None = None) -> dict[str, dict] | None:
        """The storage-config Secret's entries in a namespace, or None when it was not applied."""
        secret = self.get("Secret", self.storage_secret_name, namespace)
        if not isinstance(secret, StorageConfigSecret):
            return None
        return copy.deepcopy(secret.entries)

    # ---- models -----------------------------------------------------------------------------------

    def model(
        self, name: str, namespace: str | None = None, kind: str | None = None
    ) -> RegisteredModel | None:
        """The vmodel `name` (owned by whichever of ISVC/Predictor came first), or one kind's registration."""
        namespace = namespace or self.default_namespace
        if kind is None:
            kind = self._vmodel_owner_kind.get((namespace, name))
            if kind is None:
                return None
        return self._models.get((resolve_kind(kind), namespace, name))

    def models(self, namespace: str | None = None) -> builtins.list[RegisteredModel]:
        """Every registered model (sorted by namespace, name, kind); namespace None means all namespaces."""
        found = (m for m in self._models.values() if namespace is None or m.namespace == namespace)
        return sorted(found, key=lambda m: (m.namespace, m.name, m.kind))

    # ---- runtimes and selection -------------------------------------------------------------------

    def runtime_labels(self, runtime: ServingRuntime) -> set[str]:
        return runtime_labels(runtime, rest_proxy_enabled=self.rest_proxy_enabled)

    def runtime(self, name: str, namespace: str | None = None) -> ServingRuntime | None:
        """Runtime `name` as seen from a namespace: its ServingRuntime, else the ClusterServingRuntime."""
        return next((rt for rt in self.effective_runtimes(namespace) if rt.name == name), None)

    def effective_runtimes(self, namespace: str | None = None) -> builtins.list[ServingRuntime]:
        """Runtimes visible in a namespace (namespaced ones shadow cluster ones of the same name), by name."""
        namespace = namespace or self.default_namespace
        by_name: dict[str, ServingRuntime] = {}
        for runtime in self._objects.get("ClusterServingRuntime", {}).values():
            if isinstance(runtime, ServingRuntime):
                by_name[runtime.name] = runtime
        for runtime in self._objects.get("ServingRuntime", {}).values():
            if isinstance(runtime, ServingRuntime) and runtime.namespace == namespace:
                by_name[runtime.name] = runtime
        return [by_name[name] for name in sorted(by_name)]

    def type_constraints(self, namespace: str | None = None) -> dict[str, dict[str, list[str]]]:
        """The `tc-config` `type_constraints` JSON object ModelMesh places models by (keys sorted)."""
        constraints: dict[str, dict[str, list[str]]] = {}
        for runtime, _ in self._selectable(namespace):
            mt_labels, pv_labels, rt_label = _runtime_label_sets(runtime, self.rest_proxy_enabled)
            constraints[rt_label] = {"required": [rt_label]}
            for mt_label in mt_labels:
                constraints[mt_label] = {"required": [mt_label]}
                for pv_label in pv_labels:
                    constraints[f"{mt_label}|{pv_label}"] = {"required": [mt_label, pv_label]}
        constraints["_default"] = {"required": [NO_RUNTIME_LABEL]}
        return {key: constraints[key] for key in sorted(constraints)}

    def runtimes_for(self, model: RegisteredModel) -> builtins.list[ServingRuntime]:
        """Every runtime that may host the model, by name; RuntimeSelectionError when there is none."""
        if model.spec_error is not None or model.type_string is None:
            raise InvalidPredictorSpecError(model.spec_error or "invalid predictor spec")
        candidates = [
            runtime
            for runtime, labels in self._selectable(model.namespace)
            if model.required_labels <= labels
        ]
        if not candidates:
            raise RuntimeSelectionError(model.type_string)
        return candidates

    # ---- internals --------------------------------------------------------------------------------

    def _selectable(self, namespace: str | None) -> builtins.list[tuple[ServingRuntime, frozenset[str]]]:
        namespace = namespace or self.default_namespace
        cached = self._selectable_cache.get(namespace)
        if cached is None:
            cached = [
                (runtime, frozenset(self.runtime_labels(runtime)))
                for runtime in self.effective_runtimes(namespace)
                if _is_selectable(runtime)
            ]
            self._selectable_cache[namespace] = cached
        return cached

    def _namespace_for(self, kind: str, namespace: str | None) -> str | None:
        return None if kind == "ClusterServingRuntime" else namespace or self.default_namespace

    def _normalized(self, manifest: Manifest) -> Manifest:
        """A private deep copy, with the namespace the object lives in."""
        namespace = self._namespace_for(manifest.kind, manifest.namespace)
        obj = manifest.model_copy(deep=True)
        if obj.metadata.namespace != namespace:
            obj.metadata = obj.metadata.model_copy(update={"namespace": namespace})
        return obj

    def _not_found_message(self, kind: str, namespace: str | None, name: str) -> str:
        where = f' in namespace "{namespace}"' if namespace is not None else ""
        return f'{kind} "{name}" not found{where}'

    def _register_model(self, obj: InferenceService | Predictor) -> RegisteredModel:
        namespace = obj.namespace or self.default_namespace
        vmodel_key = (namespace, obj.name)
        owner_kind = self._vmodel_owner_kind.setdefault(vmodel_key, obj.kind)
        model = _build_model(obj, namespace, conflicting=owner_kind != obj.kind)
        self._models[(obj.kind, *vmodel_key)] = model
        return model

    def _unregister_model(self, kind: str, namespace: str, name: str) -> Manifest | None:
        """Forget a model; if the other kind had the same name, it now owns the vmodel (returned)."""
        del self._models[(kind, namespace, name)]
        if self._vmodel_owner_kind.get((namespace, name)) != kind:
            return None
        del self._vmodel_owner_kind[(namespace, name)]
        for other_kind in MODEL_KINDS - {kind}:
            other = self._objects.get(other_kind, {}).get((namespace, name))
            if isinstance(other, InferenceService | Predictor):
                self._register_model(other)
                return other
        return None

    def _emit(self, event: Event, obj: Manifest) -> None:
        errors: builtins.list[BaseException] = []
        for listener in list(self._listeners):
            try:
                listener(event, obj)
            except Exception as exc:  # every listener hears about the change even if one fails
                errors.append(exc)
        if errors:
            raise errors[0]


def _build_model(obj: InferenceService | Predictor, namespace: str, *, conflicting: bool) -> RegisteredModel:
    owner = OWNER_BY_KIND[obj.kind]
    spec: PredictorSpec | None
    error: str | None = None
    if isinstance(obj, InferenceService):
        try:
            spec = obj.to_predictor_spec()
        except InvalidPredictorSpecError as exc:
            spec, error = None, exc.message
    else:
        spec = obj.spec
    if spec is not None:
        error = spec.validation_error()
    if error is None and conflicting:
        error = SOURCE_CONFLICT_MESSAGE
    return RegisteredModel(
        namespace=namespace,
        name=obj.name,
        kind=obj.kind,
        owner=owner,
        concrete_id=concrete_model_id(obj.name, owner, spec) if spec is not None else None,
        predictor=spec,
        spec_error=error,
        type_string=model_type_string(spec) if spec is not None else None,
        required_labels=required_labels(spec) if spec is not None else frozenset(),
        source=obj,
    )
