"""What a launcher returns and the protocol every launcher follows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..spec import ServingRuntime

__all__ = ["Launcher", "RuntimeInstance", "RuntimePorts"]


@dataclass(frozen=True)
class RuntimePorts:
    """Host addresses the emulator uses to reach an instance's declared container ports."""

    data: str
    """`grpcDataEndpoint` (inference), e.g. `127.0.0.1:40123`."""
    management: str
    """`builtInAdapter.runtimeManagementPort` (model repository API)."""


class RuntimeInstance(Protocol):
    instance_id: str
    runtime_name: str
    models_dir: Path
    """Host directory mounted at `/models` inside the runtime."""
    container_models_dir: str
    """The same directory as the runtime sees it (`/models` in a container, the host path for a process)."""
    ports: RuntimePorts

    def is_running(self) -> bool: ...

    def log_tail(self, lines: int = 40) -> str: ...

    async def stop(self) -> None: ...


class Launcher(Protocol):
    name: str

    async def start(self, runtime: ServingRuntime, instance_id: str, work_dir: Path) -> RuntimeInstance:
        """Start an instance and return once its process or container runs (readiness is the adapter's job)."""
        ...
