"""The adapter protocol: ModelMesh's `mmesh.ModelRuntime` (runtimeStatus, loadModel, unloadModel)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..launchers import RuntimeInstance
from ..spec import ServingRuntime
from ..storage import PulledModel

__all__ = ["DEFAULT_MODEL_SIZE", "MODEL_SIZE_MULTIPLIER", "AdapterFactory", "RuntimeAdapter", "RuntimeStatus"]

DEFAULT_MODEL_SIZE = 1_000_000
MODEL_SIZE_MULTIPLIER = 1.25


@dataclass(frozen=True)
class RuntimeStatus:
    capacity_bytes: int
    max_loading_concurrency: int
    model_loading_timeout_ms: int
    default_model_size_bytes: int = DEFAULT_MODEL_SIZE
    runtime_version: str = ""
    method_infos: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Methods the runtime serves, with the path of the model-id field to rewrite (`idInjectionPath`)."""


class RuntimeAdapter(Protocol):
    async def runtime_status(self) -> RuntimeStatus:
        """Wait until the runtime is ready, purge any loaded models, and report its capacity."""
        ...

    async def load_model(self, model_id: str, model_type: str, pulled: PulledModel) -> int:
        """Load a pulled model under its concrete id; return its size in bytes."""
        ...

    async def unload_model(self, model_id: str) -> None: ...

    async def close(self) -> None: ...


AdapterFactory = Callable[[ServingRuntime, RuntimeInstance], RuntimeAdapter]
