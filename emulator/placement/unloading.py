"""Placement's unloads: evicted copies, models retired by a delete or an update, and what waits for them.

A model deleted and applied again at once has the same concrete id as the one being torn down: its load waits
for that teardown. As in ModelMesh's runtime, a load of a model id on an instance also waits for an unload of that
id there that is still in progress (an eviction, a failed load's cleanup).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ..storage import Puller
from .model_state import ConcreteModel, LoadedCopy, ModelState
from .runtime_pool import RuntimeHandle

__all__ = ["Unloading"]

log = logging.getLogger(__name__)


class Unloading:
    """Mixin of `Placement`; it sets `_teardowns` (model id → task) and `_unloading` ((instance, model id) →
    future of the unload in progress)."""

    _teardowns: dict[str, asyncio.Task[None]]
    _unloading: dict[tuple[str, str], asyncio.Future[None]]

    async def _after_teardown(self, model_id: str) -> None:
        teardown = self._teardowns.get(model_id)
        if teardown is not None:
            await asyncio.wait({teardown})

    async def _after_unload(self, handle: RuntimeHandle, model_id: str) -> None:
        unloading = self._unloading.get((handle.location, model_id))
        if unloading is not None:
            await asyncio.wait({unloading})

    async def _evict(self, handle: RuntimeHandle, model_ids: list[str], for_model: ConcreteModel | None = None
                     ) -> None:
        """Unload models the cache evicted, before the load that needed their space (`for_model`'s) goes on."""
        now = time.time()
        for model_id in model_ids:
            model = self._models.get(model_id)
            if model is not None:
                copy = model.copies.pop(handle.location, None)
                if copy is not None and not model.copies and model.state is ModelState.LOADED:
                    model.state = ModelState.STANDBY
                self._metrics.age_at_eviction.observe((now - model.last_used) * 1000)
                log.info("evicted model %s from %s, last used %.1fs ago", model_id, handle.location,
                         now - model.last_used)
                self._evicted_events(handle, model_id, model.last_used, for_model)
            await self._unload_copy(handle, model_id)

    def _forget_copy(self, copy: LoadedCopy) -> None:
        model = copy.model
        model.copies.pop(copy.location, None)
        copy.handle.cache.remove(model.model_id)
        if not model.copies and model.state is ModelState.LOADED:
            model.state = ModelState.STANDBY

    def _retire(self, model: ConcreteModel) -> None:
        """Forget a concrete model and unload all its copies in the background."""
        if self._keeps_registered(model):
            return
        model_id = model.model_id
        if self._models.get(model_id) is model:
            del self._models[model_id]
        teardown = self._spawn(self._unload_model(model, after=self._teardowns.get(model_id)), f"unload {model_id}")
        self._teardowns[model_id] = teardown
        teardown.add_done_callback(
            lambda task: self._teardowns.pop(model_id) if self._teardowns.get(model_id) is task else None)

    async def _unload_model(self, model: ConcreteModel, *, after: asyncio.Task[None] | None = None) -> None:
        """Cancel the model's load and unload its copies, once an earlier teardown of the same id (`after`) ended."""
        if after is not None:
            await asyncio.wait({after})
        if model.load_task is not None:
            model.load_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await model.load_task
        copies, model.copies = list(model.copies.values()), {}
        model.state = ModelState.STANDBY
        for copy in copies:
            copy.handle.cache.remove(model.model_id)
            await self._unload_copy(copy.handle, model.model_id)

    async def _unload_copy(self, handle: RuntimeHandle, model_id: str) -> None:
        key = (handle.location, model_id)
        earlier = self._unloading.get(key)
        done = self._unloading[key] = asyncio.get_running_loop().create_future()
        try:
            if earlier is not None:
                await asyncio.wait({earlier})
            started = time.perf_counter()
            try:  # bounded: loads of this id wait for it
                async with asyncio.timeout(handle.status.model_loading_timeout_ms / 1000):
                    await handle.adapter.unload_model(model_id)
                self._metrics.unload.observe((time.perf_counter() - started) * 1000)
            except Exception as exc:  # the runtime may already be gone; files are removed regardless
                if handle.instance.is_running():
                    self._metrics.unload_failures.inc()
                log.debug("unload of %s on %s failed: %s", model_id, handle.location, exc)
            await asyncio.to_thread(Puller.remove, model_id, handle.instance.models_dir)
        finally:
            done.set_result(None)
            if self._unloading.get(key) is done:
                del self._unloading[key]
