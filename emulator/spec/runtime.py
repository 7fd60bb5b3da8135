"""ServingRuntime / ClusterServingRuntime (serving.kserve.io/v1alpha1)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from .endpoint import Endpoint, parse_endpoint
from .meta import KubeModel, TopLevelObject
from .quantity import parse_quantity, to_bytes, to_millicores

__all__ = [
    "BUILT_IN_SERVER_TYPES",
    "BuiltInAdapter",
    "Container",
    "ContainerPort",
    "EnvVar",
    "Quantity",
    "ResourceRequirements",
    "ServingRuntime",
    "ServingRuntimeSpec",
    "StorageHelper",
    "SupportedModelFormat",
    "VolumeMount",
]

BUILT_IN_SERVER_TYPES = ("triton", "mlserver", "ovms", "torchserve")
"""ModelMesh Serving's default `builtInServerTypes` (model-serving-config)."""


def _number_to_text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _checked_quantity(value: str) -> str:
    parse_quantity(value)
    return value


Quantity = Annotated[str, BeforeValidator(_number_to_text), AfterValidator(_checked_quantity),
                     WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}],
                                     "x-kubernetes-int-or-string": True})]
"""A Kubernetes quantity kept as written (`1Gi`, `500m`); YAML numbers become their text."""


class EnvVar(KubeModel):
    name: str
    value: str | None = None
    value_from: dict[str, Any] | None = None


class ContainerPort(KubeModel):
    name: str | None = None
    container_port: int = Field(ge=1, le=65535)
    protocol: str = "TCP"


class VolumeMount(KubeModel):
    name: str
    mount_path: str
    read_only: bool | None = None
    sub_path: str | None = None


class ResourceRequirements(KubeModel):
    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class Container(KubeModel):
    name: str = Field(min_length=1)
    image: str | None = None
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    env: list[EnvVar] = Field(default_factory=list)
    working_dir: str | None = None
    ports: list[ContainerPort] = Field(default_factory=list)
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    volume_mounts: list[VolumeMount] = Field(default_factory=list)
    liveness_probe: dict[str, Any] | None = None
    # Kept only so validation can reject them: ModelMesh manages both.
    readiness_probe: dict[str, Any] | None = None
    lifecycle: dict[str, Any] | None = None

    @property
    def memory_request_bytes(self) -> int | None:
        return _bytes_or_none(self.resources.requests.get("memory"))

    @property
    def memory_limit_bytes(self) -> int | None:
        return _bytes_or_none(self.resources.limits.get("memory"))

    @property
    def cpu_request_millicores(self) -> int | None:
        cpu = self.resources.requests.get("cpu")
        return to_millicores(cpu) if cpu is not None else None

    def env_dict(self) -> dict[str, str]:
        """Literal env values by name (entries using `valueFrom` are left out)."""
        return {var.name: var.value for var in self.env if var.value is not None}


def _bytes_or_none(quantity: str | None) -> int | None:
    return to_bytes(quantity) if quantity is not None else None


class SupportedModelFormat(KubeModel):
    name: str = Field(min_length=1)
    version: str | None = None
    auto_select: bool | None = None
    priority: int | None = Field(default=None, ge=1)


class StorageHelper(KubeModel):
    disabled: bool | None = None


class BuiltInAdapter(KubeModel):
    server_type: str | None = None
    runtime_management_port: int | None = None
    mem_buffer_bytes: int | None = None
    model_loading_timeout_millis: int | None = None
    env: list[EnvVar] = Field(default_factory=list)


class ServingRuntimeSpec(KubeModel):
    supported_model_formats: list[SupportedModelFormat] = Field(default_factory=list)
    multi_model: bool | None = None
    disabled: bool | None = None
    protocol_versions: list[str] = Field(default_factory=list)
    grpc_endpoint: str | None = None
    grpc_data_endpoint: str | None = None
    http_data_endpoint: str | None = None
    replicas: int | None = Field(default=None, ge=0, le=65535)
    storage_helper: StorageHelper | None = None
    built_in_adapter: BuiltInAdapter | None = None
    containers: list[Container] = Field(min_length=1)
    volumes: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def is_multi_model(self) -> bool:
        return self.multi_model is True

    @property
    def is_disabled(self) -> bool:
        return self.disabled is True

    @property
    def management_endpoint(self) -> Endpoint | None:
        """`grpcEndpoint`: where the runtime (or its adapter) serves `mmesh.ModelRuntime`."""
        return parse_endpoint(self.grpc_endpoint) if self.grpc_endpoint is not None else None

    @property
    def data_endpoint(self) -> Endpoint | None:
        """`grpcDataEndpoint`: where inference requests are forwarded."""
        return parse_endpoint(self.grpc_data_endpoint) if self.grpc_data_endpoint is not None else None

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if c.name == name), None)


class ServingRuntime(TopLevelObject):
    """Both kinds share this model; `is_cluster_scoped` tells them apart."""

    api_versions: ClassVar[tuple[str, ...]] = ("serving.kserve.io/v1alpha1",)

    api_version: str = "serving.kserve.io/v1alpha1"
    kind: Literal["ServingRuntime", "ClusterServingRuntime"] = "ServingRuntime"
    spec: ServingRuntimeSpec

    @property
    def is_cluster_scoped(self) -> bool:
        return self.kind == "ClusterServingRuntime"
