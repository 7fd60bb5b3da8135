"""ModelMesh's model states and failure info, the record kept per concrete model, and its loaded copies."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..registry import RegisteredModel
    from .load_queue import LoadTicket
    from .runtime_pool import RuntimeHandle

__all__ = ["ConcreteModel", "FailureInfo", "LoadedCopy", "ModelState", "TransitionStatus"]


class ModelState(StrEnum):
    PENDING = "Pending"
    STANDBY = "Standby"
    LOADING = "Loading"
    LOADED = "Loaded"
    FAILED_TO_LOAD = "FailedToLoad"


class TransitionStatus(StrEnum):
    UP_TO_DATE = "UpToDate"
    IN_PROGRESS = "InProgress"
    BLOCKED_BY_FAILED_LOAD = "BlockedByFailedLoad"
    INVALID_SPEC = "InvalidSpec"


@dataclass(frozen=True)
class FailureInfo:
    reason: str
    message: str
    model_id: str
    location: str | None = None
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_status(self) -> dict[str, str]:
        status = {"reason": self.reason, "message": self.message, "modelRevisionName": self.model_id,
                  "time": self.time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if self.location:
            status["location"] = self.location
        return status


@dataclass(eq=False)
class LoadedCopy:
    """A concrete model loaded (or loading) on one runtime instance."""

    model: ConcreteModel
    handle: RuntimeHandle
    loaded: bool = False
    size_bytes: int = 0
    loaded_at: float = 0.0
    """time.time() when the load finished."""

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def location(self) -> str:
        return self.handle.location

    def is_servable(self) -> bool:
        return self.loaded and self.handle.instance.is_running()


@dataclass(eq=False)
class ConcreteModel:
    """One concrete model (`<isvc>__isvc-<hash>`): its state, failure and copies on runtime instances."""

    model: RegisteredModel
    state: ModelState = ModelState.PENDING
    failure: FailureInfo | None = None
    copies: dict[str, LoadedCopy] = field(default_factory=dict)
    """By runtime instance id."""
    load_task: asyncio.Task[None] | None = None
    load_ticket: LoadTicket | None = None
    """The load's place in its instance's loading queue; a request waiting for it raises its priority."""
    loads: int = 0
    requests: int = 0
    last_used: float = field(default_factory=time.time)
    previous_use: float | None = None
    failed_at: float | None = None

    @property
    def model_id(self) -> str:
        """The concrete id; an InferenceService too invalid to hash has none and goes by its name."""
        return self.model.concrete_id or self.model.name

    def servable_copies(self) -> list[LoadedCopy]:
        return [copy for copy in self.copies.values() if copy.is_servable()]

    @property
    def handle(self) -> RuntimeHandle | None:
        """The runtime instance of the first servable copy."""
        copies = self.servable_copies()
        return copies[0].handle if copies else None

    @property
    def size_bytes(self) -> int:
        return max((copy.size_bytes for copy in self.copies.values()), default=0)

    def use(self, now: float) -> None:
        if now - self.last_used >= 1.0:
            self.previous_use = self.last_used
        self.last_used = now
