"""Placement's second copies: ModelMesh loads a second copy of a model used "regularly" on another instance."""

from __future__ import annotations

import asyncio
import logging

from ..spec import ServingRuntime
from .model_state import ConcreteModel

__all__ = ["SecondCopies"]

log = logging.getLogger(__name__)


class SecondCopies:
    """Mixin of `Placement`."""

    def _maybe_add_second_copy(self, model: ConcreteModel) -> None:
        """ModelMesh loads a second copy of a model used "regularly": its previous use 7 to 40 minutes ago."""
        previous = model.previous_use
        if previous is None or model.load_task is not None or len(model.copies) != 1:
            return
        age = model.last_used - previous
        if not self._settings.second_copy_min_age_s <= age <= self._settings.second_copy_max_age_s:
            return
        runtime = next(iter(model.copies.values())).handle.runtime
        if len(self._pool.running(runtime)) < 2:
            return
        model.load_task = asyncio.create_task(self._add_copy(model, runtime), name=f"copy {model.model_id}")
        model.load_task.add_done_callback(lambda task: self._load_done(model, task))

    async def _add_copy(self, model: ConcreteModel, runtime: ServingRuntime) -> None:
        handles = self._pool.running(runtime)
        handle = self._choose_instance(model, handles, requested=False, last_used=model.last_used)
        if handle is None:
            return
        try:
            if await self._load_copy(model, handle, model.last_used) is not None:
                log.info("second copy of model %s loaded on %s", model.model_id, handle.location)
        except Exception as exc:
            self._metrics.load_failures.inc()
            log.warning("second copy of model %s failed on %s: %s", model.model_id, handle.location, exc)
