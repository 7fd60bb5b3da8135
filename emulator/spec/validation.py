"""Checks beyond structure: ModelMesh's ServingRuntime validation and what the emulator can serve."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ..errors import SpecError
from .endpoint import parse_endpoint
from .isvc import DEPLOYMENT_MODE_ANNOTATION, MODELMESH_DEPLOYMENT_MODE, InferenceService
from .kinds import Manifest
from .runtime import BUILT_IN_SERVER_TYPES, Container, ServingRuntime
from .secret import StorageConfigSecret

__all__ = ["DEFAULT_STORAGE_SECRET_NAME", "validate_manifest", "validate_serving_runtime"]

DEFAULT_STORAGE_SECRET_NAME = "storage-config"

_RESERVED_CONTAINER_NAMES = frozenset({"mm", "rest-proxy", "puller"})
_RESERVED_MOUNT_NAMES = frozenset({"storage-config", "etcd-config", "tc-config", "domain-socket"})
_RESERVED_VOLUME_NAMES = _RESERVED_MOUNT_NAMES | {"models-dir"}
_RESERVED_PORT_NAMES = frozenset({"grpc", "http", "prometheus"})
_RESERVED_PORTS = frozenset({8080, 8085, 8089, 8090})
_RESERVED_PORT_RANGE = range(11881, 11900)
_TCP_ENDPOINT = re.compile(r"port:[0-9]+")


def validate_manifest(
    obj: Manifest,
    *,
    built_in_server_types: Sequence[str] | None = None,
    storage_secret_name: str = DEFAULT_STORAGE_SECRET_NAME,
) -> None:
    """Raise SpecError (naming object and field) when the emulator must refuse this manifest."""
    if isinstance(obj, ServingRuntime):
        validate_serving_runtime(obj, built_in_server_types)
    elif isinstance(obj, InferenceService) and not obj.is_modelmesh_mode:
        raise SpecError(
            f"the emulator only serves ModelMesh-mode InferenceServices; add the annotation "
            f"{DEPLOYMENT_MODE_ANNOTATION}: {MODELMESH_DEPLOYMENT_MODE}",
            field=f"metadata.annotations[{DEPLOYMENT_MODE_ANNOTATION}]",
            obj=obj.display_name,
        )
    elif isinstance(obj, StorageConfigSecret) and obj.metadata.name != storage_secret_name:
        raise SpecError(
            f'unsupported Secret "{obj.metadata.name}": only the storage config Secret '
            f'"{storage_secret_name}" is used',
            field="metadata.name",
            obj=obj.display_name,
        )


def validate_serving_runtime(
    runtime: ServingRuntime, built_in_server_types: Sequence[str] | None = None
) -> None:
    """ModelMesh's `validateServingRuntimeSpec` plus the endpoint checks it makes when building the pod."""
    if built_in_server_types is None:
        built_in_server_types = BUILT_IN_SERVER_TYPES

    def fail(cause: str, field: str) -> SpecError:
        return SpecError(cause, field=field, obj=runtime.display_name)

    spec = runtime.spec
    adapter = spec.built_in_adapter
    if adapter is not None:
        server_type = adapter.server_type or ""
        if server_type not in built_in_server_types:
            raise fail(
                f"unrecognized built-in runtime server type {server_type}", "spec.builtInAdapter.serverType"
            )
        if spec.container(server_type) is None:
            raise fail(f"must include runtime container with name {server_type}", "spec.containers")
    for index, container in enumerate(spec.containers):
        problem = _container_problem(container)
        if problem is not None:
            cause, field = problem
            field_path = f"spec.containers[{index}].{field}"
            raise fail(f"container spec for {container.name} is invalid: {cause}", field_path)
    for index, volume in enumerate(spec.volumes):
        name = str(volume.get("name", ""))
        cause = _reserved_name_problem(name, _RESERVED_VOLUME_NAMES, "volume")
        if cause is not None:
            raise fail(cause, f"spec.volumes[{index}].name")
    _check_endpoints(runtime, fail)


def _reserved_name_problem(name: str, reserved: frozenset[str], what: str) -> str | None:
    if name in reserved:
        return f"{what} {name} is reserved for internal use"
    if name.startswith("mm-"):
        return f'{what} cannot start with "mm-", which is reserved for internal use'
    return None


def _container_problem(container: Container) -> tuple[str, str] | None:
    """(cause, field relative to the container) for the first problem, as upstream `validateContainer`."""
    cause = _reserved_name_problem(container.name, _RESERVED_CONTAINER_NAMES, "container name")
    if cause is not None:
        return cause, "name"
    if container.readiness_probe is not None or container.lifecycle is not None:
        field = "readinessProbe" if container.readiness_probe is not None else "lifecycle"
        return "ReadinessProbe and Lifecycle are managed by modelmesh and cannot be set", field
    for index, mount in enumerate(container.volume_mounts):
        cause = _reserved_name_problem(mount.name, _RESERVED_MOUNT_NAMES, "volume")
        if cause is not None:
            return cause, f"volumeMounts[{index}].name"
    for index, port in enumerate(container.ports):
        cause = _reserved_name_problem(port.name or "", _RESERVED_PORT_NAMES, "port name")
        if cause is not None:
            return cause, f"ports[{index}].name"
        if port.container_port in _RESERVED_PORTS:
            return f"Port {port.container_port} is reserved for internal use", f"ports[{index}].containerPort"
        if port.container_port in _RESERVED_PORT_RANGE:
            return "Port range [11881-11899] is reserved for internal use", f"ports[{index}].containerPort"
    return None


def _check_endpoints(runtime: ServingRuntime, fail: Callable[[str, str], SpecError]) -> None:
    spec = runtime.spec
    socket_dirs: set[str] = set()
    for field, value in (
        ("spec.grpcEndpoint", spec.grpc_endpoint),
        ("spec.grpcDataEndpoint", spec.grpc_data_endpoint),
    ):
        if value is None:
            continue
        try:
            endpoint = parse_endpoint(value)
        except ValueError as exc:
            raise fail(str(exc), field) from None
        if endpoint.socket_dir is not None:
            socket_dirs.add(endpoint.socket_dir)
    if len(socket_dirs) > 1:
        found = [spec.grpc_data_endpoint, spec.grpc_endpoint]
        raise fail(f"Only one unix domain socket path is allowed. Found {found}", "spec.grpcEndpoint")
    endpoint = spec.grpc_endpoint
    if spec.built_in_adapter is not None and endpoint is not None and not _TCP_ENDPOINT.fullmatch(endpoint):
        cause = f'Built-in adapter grpcEndpoint must be of the form "port:N": {endpoint}'
        raise fail(cause, "spec.grpcEndpoint")
