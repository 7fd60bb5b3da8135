"""The adapter protocol: ModelMesh's `mmesh.ModelRuntime` (runtimeStatus, loadModel, unloadModel)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..launchers import RuntimeInstance
from ..spec import ServingRuntime
from ..spec.predictor import ModelType, StorageLocation
from ..storage import PulledModel

__all__ = [
    "DEFAULT_MODEL_SIZE",
    "MODEL_SIZE_MULTIPLIER",
    "SPI_ADAPTER",
    "AdapterFactory",
    "LoadRequest",
    "RuntimeAdapter",
    "RuntimeStatus",
    "SpiRuntimeAdapter",
]

SPI_ADAPTER = "mmesh"
"""The adapter of a ServingRuntime without `builtInAdapter`, whose container speaks `mmesh.ModelRuntime` itself."""

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
    allow_any_method: bool = True
    """False: `method_infos` is an allow-list (a runtime's `allowAnyMethod: false`); the built-in adapters keep
    the emulator's earlier pass-through of every method."""
    limit_model_concurrency: bool = False


class RuntimeAdapter(Protocol):
    async def runtime_status(self) -> RuntimeStatus:
        """Wait until the runtime is ready, purge any loaded models, and report its capacity."""
        ...

    async def load_model(self, model_id: str, model_type: str, pulled: PulledModel) -> int:
        """Load a pulled model under its concrete id; return its size in bytes."""
        ...

    async def unload_model(self, model_id: str) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class LoadRequest:
    """What ModelMesh knows of a model when it asks a runtime to load it (before any puller ran)."""

    model_id: str
    model_type: str
    """ModelMesh's type string (`mt:<format>[:<version>]`, `rt:<runtime>`)."""
    location: StorageLocation
    format: ModelType
    pull: Callable[[], Awaitable[PulledModel]]
    """The storage helper: pull the files into the instance's models dir."""
    reserve: Callable[[int], Awaitable[None]]
    """Hold the predicted size in the instance's cache (evicting as needed); raises if it can never fit."""
    model_key: str | None = None
    """A model registered through mmesh.ModelMesh: its `ModelInfo.key`, given to the runtime as is."""


@runtime_checkable
class SpiRuntimeAdapter(Protocol):
    """An adapter that loads from the full request (a runtime speaking `mmesh.ModelRuntime` itself)."""

    async def load_request(self, request: LoadRequest) -> int: ...


AdapterFactory = Callable[[ServingRuntime, RuntimeInstance], RuntimeAdapter]
