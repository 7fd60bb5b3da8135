"""The built-in adapter's configuration, derived from a ServingRuntime as ModelMesh's controller does (§1.3 d, §5.3).

A runtime container without a memory request (or limit) gets no default capacity upstream: the controller sets
`CONTAINER_MEM_REQ_BYTES` from `resourceFieldRef: requests.memory` (modelmesh-serving
controllers/modelmesh/runtime.go), which Kubernetes resolves to 0 for an absent request (`ExtractContainerResourceValue`
on `Requests.Memory()`); the adapter reports `0 - MEM_BUFFER_BYTES` (model-mesh-*-adapter/server/config.go, cast to
uint64 in `RuntimeStatus`) and ModelMesh refuses any capacity below its minimum ("Reported model capacity ... too
small relative to advertised default model size", ModelMesh.java `setupMemory`): the pod never becomes ready.
The emulator refuses such a runtime before starting any process, with an error that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RuntimeStartError
from ..launchers.upstream_images import kustomize_image
from ..spec import ServingRuntime
from .base import DEFAULT_MODEL_SIZE, RuntimeStatus

__all__ = ["AdapterEnv", "adapter_env"]

DEFAULT_MEM_BUFFER_BYTES = 268435456
DEFAULT_LOAD_TIMEOUT_MS = 30000


@dataclass(frozen=True)
class AdapterEnv:
    container_mem_req_bytes: int
    mem_buffer_bytes: int
    load_timeout_ms: int
    loading_concurrency: int
    limit_per_model_concurrency: int
    default_model_size: int
    runtime_version: str

    @property
    def capacity_bytes(self) -> int:
        return self.container_mem_req_bytes - self.mem_buffer_bytes

    def runtime_status(self, method_infos: dict[str, tuple[int, ...]], runtime_version: str = "") -> RuntimeStatus:
        """What the adapter reports once its runtime is ready; the runtime's own version wins over RUNTIME_VERSION."""
        return RuntimeStatus(
            capacity_bytes=self.capacity_bytes,
            max_loading_concurrency=self.loading_concurrency,
            model_loading_timeout_ms=self.load_timeout_ms,
            default_model_size_bytes=self.default_model_size,
            runtime_version=runtime_version or self.runtime_version,
            method_infos=dict(method_infos),
        )


def adapter_env(runtime: ServingRuntime) -> AdapterEnv:
    """Values of ADAPTER env vars: builtInAdapter fields, SR annotations, then `builtInAdapter.env` overrides."""
    adapter = runtime.spec.built_in_adapter
    server_type = adapter.server_type if adapter else None
    container = next((c for c in runtime.spec.containers if c.name == server_type), runtime.spec.containers[0])
    mem_request = container.memory_request_bytes or container.memory_limit_bytes
    annotations = runtime.metadata.annotations
    env: dict[str, str] = {
        "MEM_BUFFER_BYTES": str(adapter.mem_buffer_bytes if adapter and adapter.mem_buffer_bytes is not None
                                else DEFAULT_MEM_BUFFER_BYTES),
        "LOADTIME_TIMEOUT": str(adapter.model_loading_timeout_millis
                                if adapter and adapter.model_loading_timeout_millis is not None
                                else DEFAULT_LOAD_TIMEOUT_MS),
        "LOADING_CONCURRENCY": annotations.get("maxLoadingConcurrency", "1"),
        "LIMIT_PER_MODEL_CONCURRENCY": annotations.get("perModelConcurrencyLimit", "0"),
        "DEFAULT_MODELSIZE": str(DEFAULT_MODEL_SIZE),
        "RUNTIME_VERSION": _image_tag(kustomize_image(container.image or "")) or "v1",
    }
    if mem_request is not None:
        env["CONTAINER_MEM_REQ_BYTES"] = str(mem_request)
    for var in adapter.env if adapter else []:
        if var.value is not None:
            env[var.name] = var.value
    name = runtime.metadata.name
    if "CONTAINER_MEM_REQ_BYTES" not in env:
        index = runtime.spec.containers.index(container)
        raise RuntimeStartError(
            f"ServingRuntime {name!r}: container {container.name!r} has no resources.requests.memory (nor "
            f"limits.memory, which Kubernetes would copy into it), so it has no model capacity: ModelMesh's "
            f"controller passes the request to the adapter through the downward API (CONTAINER_MEM_REQ_BYTES), "
            f"which gives 0 for an absent request, and ModelMesh does not start with a capacity of "
            f"0 - memBufferBytes. Set spec.containers[{index}].resources.requests.memory (the built-in runtimes "
            f"request 1Gi); no runtime process was started"
        )
    try:
        values = {key: int(value) for key, value in env.items() if key != "RUNTIME_VERSION"}
    except ValueError as exc:
        raise RuntimeStartError(f"ServingRuntime {name!r}: invalid adapter setting: {exc}") from None
    result = AdapterEnv(
        container_mem_req_bytes=values["CONTAINER_MEM_REQ_BYTES"],
        mem_buffer_bytes=values["MEM_BUFFER_BYTES"],
        load_timeout_ms=values["LOADTIME_TIMEOUT"],
        loading_concurrency=max(1, values["LOADING_CONCURRENCY"]),
        limit_per_model_concurrency=values["LIMIT_PER_MODEL_CONCURRENCY"],
        default_model_size=values["DEFAULT_MODELSIZE"],
        runtime_version=env["RUNTIME_VERSION"],
    )
    if result.capacity_bytes <= 0:
        raise RuntimeStartError(
            f"ServingRuntime {name!r}: memory request {result.container_mem_req_bytes} bytes leaves no capacity "
            f"after memBufferBytes {result.mem_buffer_bytes}"
        )
    return result


def _image_tag(image: str) -> str:
    reference = image.partition("@")[0]
    last = reference.rsplit("/", 1)[-1]
    return last.partition(":")[2]
