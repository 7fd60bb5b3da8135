"""The Events placement records on the InferenceService / Predictor a decision concerns (emulator/events.py)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from ..events import EventRecorder
from .runtime_pool import runtime_key

if TYPE_CHECKING:
    from ..registry import RegisteredModel, Registry
    from ..spec import ServingRuntime
    from ..storage import PulledModel
    from .model_state import ConcreteModel
    from .runtime_pool import RuntimeHandle, RuntimePool

__all__ = ["PlacementEvents"]

_MODEL_KINDS = ("InferenceService", "Predictor")
_MAX_SKIPPED = 8


class PlacementEvents:
    """Mixin of `Placement`."""

    events: EventRecorder
    _registry: Registry
    _models: dict[str, ConcreteModel]
    _pool: RuntimePool

    def _model_event(self, model: ConcreteModel, reason: str, message: str, *, warning: bool = False) -> None:
        registered = model.model
        if registered.kind in _MODEL_KINDS:  # not models registered through mmesh.ModelMesh
            self.events.record(registered.kind, registered.namespace, registered.name, reason, message,
                               warning=warning)

    def _runtime_selected_event(self, model: ConcreteModel, chosen: ServingRuntime,
                                candidates: list[ServingRuntime]) -> None:
        registered = model.model
        running = any(runtime_key(handle.runtime) == runtime_key(chosen) for handle in self._pool.handles())
        labels = ", ".join(sorted(registered.required_labels))
        why = "already running" if running else "first candidate by name"
        others = [rt.metadata.name for rt in candidates if rt is not chosen]
        message = f"runtime {chosen.metadata.name} selected for {registered.type_string} ({why}; labels " \
                  f"matched: {labels})"
        if others:
            message += f"; also eligible: {', '.join(others)}"
        skipped = _skipped(self._registry, registered, candidates)
        if skipped:
            message += f"; skipped: {'; '.join(skipped[:_MAX_SKIPPED])}"
        self._model_event(model, "RuntimeSelected", message)

    async def _pull_recorded(self, model: ConcreteModel, pulling: Awaitable[PulledModel]) -> PulledModel:
        """The puller's work, between a `Pulling` and a `Pulled` event (bytes, seconds)."""
        predictor = model.model.predictor
        location = predictor.storage_location() if predictor is not None else None
        where = ""
        if location is not None and location.path:  # the path and the key's name only: never credentials
            where = f" from {location.path}" + (f" (storage key {location.storage_key})"
                                                if location.storage_key else "")
        self._model_event(model, "Pulling", f"pulling model {model.model_id}{where}")
        started = time.perf_counter()
        pulled = await pulling
        self._model_event(model, "Pulled", f"pulled model {model.model_id}: {pulled.disk_size_bytes} bytes in "
                          f"{time.perf_counter() - started:.1f}s")
        return pulled

    def _loaded_event(self, model: ConcreteModel, handle: RuntimeHandle, size: int, seconds: float) -> None:
        cache = handle.cache
        self._model_event(model, "Loaded", f"model {model.model_id} loaded on instance {handle.location} in "
                          f"{seconds:.1f}s: {size} bytes (instance {cache.used_bytes} of {cache.capacity_bytes} "
                          "bytes used)")

    def _churn_event(self, model: ConcreteModel, handle: RuntimeHandle, oldest_age: float, churn_age: float) -> None:
        self._model_event(model, "ChurnRefused", f"load of {model.model_id} refused on instance {handle.location}: "
                          f"its least recently used model was used {oldest_age:.1f}s ago, under the churn age of "
                          f"{churn_age:.0f}s", warning=True)

    def _evicted_events(self, handle: RuntimeHandle, model_id: str, last_used: float,
                        for_model: ConcreteModel | None) -> None:
        """`model_id` was evicted from `handle` to make room for `for_model`: an event on both."""
        age = time.time() - last_used
        needed = f" to make room for {for_model.model_id}" if for_model is not None else ""
        evicted = self._models.get(model_id)
        text = f"model {model_id} evicted from instance {handle.location}{needed} (least recently used: last " \
               f"used {age:.1f}s ago)"
        if evicted is not None:
            self._model_event(evicted, "Evicted", text)
        if for_model is not None:
            self._model_event(for_model, "EvictedOther", text)


def _skipped(registry: Registry, model: RegisteredModel, candidates: list[ServingRuntime]) -> list[str]:
    """Each runtime in the model's namespace that was not a candidate, and why."""
    reasons = []
    for runtime in registry.effective_runtimes(model.namespace):
        if runtime in candidates:
            continue
        missing = sorted(model.required_labels - registry.runtime_labels(runtime))
        why = f"lacks {', '.join(missing)}" if missing else "disabled or not multi-model"
        reasons.append(f"{runtime.metadata.name} ({why})")
    return reasons
