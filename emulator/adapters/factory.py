"""One adapter per `builtInAdapter.serverType`, as ModelMesh's runtime pod pairs each server with its adapter."""

from __future__ import annotations

from ..launchers import RuntimeInstance
from ..settings import Settings
from ..spec import ServingRuntime
from .base import SPI_ADAPTER, AdapterFactory, RuntimeAdapter

__all__ = ["build_adapters"]


def build_adapters(settings: Settings) -> dict[str, AdapterFactory]:
    timeout_s = settings.runtime_startup_timeout_s

    # Each runtime's client libraries are imported only when a runtime of that type starts.
    def mlserver(runtime: ServingRuntime, instance: RuntimeInstance) -> RuntimeAdapter:
        from .mlserver import MLServerAdapter

        return MLServerAdapter(runtime, instance, startup_timeout_s=timeout_s)

    def triton(runtime: ServingRuntime, instance: RuntimeInstance) -> RuntimeAdapter:
        from .triton import TritonAdapter

        return TritonAdapter(runtime, instance, startup_timeout_s=timeout_s)

    def torchserve(runtime: ServingRuntime, instance: RuntimeInstance) -> RuntimeAdapter:
        from .torchserve import TorchServeAdapter

        return TorchServeAdapter(runtime, instance, startup_timeout_s=timeout_s)

    def ovms(runtime: ServingRuntime, instance: RuntimeInstance) -> RuntimeAdapter:
        from .ovms import OVMSAdapter

        return OVMSAdapter(runtime, instance, startup_timeout_s=timeout_s)

    def mmesh(runtime: ServingRuntime, instance: RuntimeInstance) -> RuntimeAdapter:
        from .mmesh import MmeshAdapter

        return MmeshAdapter(runtime, instance, startup_timeout_s=timeout_s)

    return {"mlserver": mlserver, "triton": triton, "torchserve": torchserve, "ovms": ovms, SPI_ADAPTER: mmesh}
