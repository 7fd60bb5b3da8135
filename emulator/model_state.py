"""ModelMesh's model states, failure info and the record kept for each concrete model."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .registry import RegisteredModel
    from .runtime_pool import RuntimeHandle

__all__ = ["FailureInfo", "ModelCopy", "ModelState", "TransitionStatus"]


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
class ModelCopy:
    """One concrete model (`<isvc>__isvc-<hash>`) and where it is loaded."""

    model: RegisteredModel
    state: ModelState = ModelState.PENDING
    failure: FailureInfo | None = None
    size_bytes: int = 0
    handle: RuntimeHandle | None = None
    load_task: asyncio.Task[None] | None = None
    loads: int = 0
    last_used: float = field(default_factory=time.monotonic)
    failed_at: float | None = None

    @property
    def model_id(self) -> str:
        """The concrete id; an InferenceService too invalid to hash has none and goes by its name."""
        return self.model.concrete_id or self.model.name
