"""Placement's scale-to-zero: a runtime no InferenceService uses stops after a grace period (`scaleToZero`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..errors import EmulatorError
from ..registry import RegisteredModel
from ..spec import ServingRuntime
from .runtime_pool import runtime_key

__all__ = ["ScaleToZero"]

log = logging.getLogger(__name__)


class ScaleToZero:
    """Mixin of `Placement`."""

    def _runtimes_in_use(self) -> set[str]:
        used: set[str] = set()
        for vmodel in self._vmodels.values():
            with contextlib.suppress(EmulatorError):
                used.update(runtime_key(rt) for rt in self._registry.runtimes_for(vmodel.model))
        return used

    def _cancel_scale_downs_for(self, model: RegisteredModel) -> None:
        if not self._scale_downs:
            return
        with contextlib.suppress(EmulatorError):
            for runtime in self._registry.runtimes_for(model):
                task = self._scale_downs.pop(runtime_key(runtime), None)
                if task is not None:
                    task.cancel()

    def settings_changed(self) -> None:
        """scaleToZero was switched or its grace period changed (the model-serving-config ConfigMap)."""
        self._review_scale_to_zero()

    def _review_scale_to_zero(self) -> None:
        if not self._settings.scale_to_zero_enabled:
            return
        in_use = self._runtimes_in_use()
        for handle in self._pool.handles():
            key = runtime_key(handle.runtime)
            if key in in_use:
                task = self._scale_downs.pop(key, None)
                if task is not None:
                    task.cancel()
            elif key not in self._scale_downs:
                self._scale_downs[key] = asyncio.create_task(self._scale_down_later(handle.runtime, key),
                                                             name=f"scale-to-zero {key}")

    async def _scale_down_later(self, runtime: ServingRuntime, key: str) -> None:
        try:
            await asyncio.sleep(self._settings.scale_to_zero_grace_s)
            if key in self._runtimes_in_use() or not self._settings.scale_to_zero_enabled:
                return
            log.info("scaling runtime %s to zero: no InferenceService uses it", runtime.metadata.name)
            self.events.record(runtime.kind, runtime.metadata.namespace, runtime.metadata.name, "ScaledToZero",
                               f"no InferenceService uses runtime {runtime.metadata.name}: its instances stop")
            for handle in self._pool.running(runtime):
                for model in self._models.values():
                    copy = model.copies.get(handle.location)
                    if copy is not None:
                        self._forget_copy(copy)
            await self._pool.stop_runtime(runtime)
        finally:
            if self._scale_downs.get(key) is asyncio.current_task():
                del self._scale_downs[key]
