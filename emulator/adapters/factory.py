"""One adapter factory per `builtInAdapter.serverType`."""

from __future__ import annotations

from ..launchers import RuntimeInstance
from ..settings import Settings
from ..spec import ServingRuntime
from .base import AdapterFactory, RuntimeAdapter
from .mlserver import MLServerAdapter

__all__ = ["build_adapters"]


def build_adapters(settings: Settings) -> dict[str, AdapterFactory]:
    def mlserver(runtime: ServingRuntime, instance: RuntimeInstance) -> RuntimeAdapter:
        return MLServerAdapter(runtime, instance, startup_timeout_s=settings.runtime_startup_timeout_s)

    return {"mlserver": mlserver}
