"""Placement's reaction to ServingRuntime changes, as a cluster's runtime Deployment would behave: a changed spec
rolls the instances (new ones load what the old ones held, then the old ones stop), fewer replicas scale in, and a
deleted or disabled runtime's models go to another runtime that supports them, or fail with NoSupportingRuntime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..errors import EmulatorError
from ..spec import ServingRuntime
from .model_state import ConcreteModel, ModelState
from .runtime_pool import Detached, RuntimeHandle, runtime_key

__all__ = ["RuntimeChanges"]

log = logging.getLogger(__name__)


class RuntimeChanges:
    """Mixin of `Placement`."""

    def _runtime_changed(self, event: str, runtime: ServingRuntime) -> None:
        key = runtime_key(runtime)
        if event == "deleted" or not (runtime.spec.is_multi_model and not runtime.spec.is_disabled):
            scale_down = self._scale_downs.pop(key, None)
            if scale_down is not None:
                scale_down.cancel()
            detached = self._pool.detach(runtime)
            if detached.slots:
                log.info("runtime %s removed: stopping its instances", runtime.name)
                self._spawn(self._remove_instances(detached), f"remove {key}", self._runtime_tasks)
        elif self._pool.is_outdated(runtime):
            old = self._pool.begin_rollout(runtime)
            log.info("runtime %s changed: replacing its %d instance(s)", runtime.name, len(old))
            self._spawn(self._roll_out(key, runtime), f"rollout {key}", self._runtime_tasks)
        elif self._pool.running(runtime):
            detached = self._pool.scale_in(runtime)
            if detached.slots:
                self._spawn(self._remove_instances(detached), f"scale in {key}", self._runtime_tasks)

    async def _roll_out(self, key: str, changed: ServingRuntime) -> None:
        """Start instances from the new spec, load there what the old ones had, then stop the old ones."""
        async with self._rollouts.setdefault(key, asyncio.Lock()):
            await self._settle_loads()
            runtime = self._registry.get(changed.kind, changed.name, changed.namespace)
            if not isinstance(runtime, ServingRuntime):
                return  # deleted meanwhile: its instances are being removed
            old = set(self._pool.retiring(runtime))
            on_old = sorted(self._models_on(old), key=lambda model: model.last_used, reverse=True)
            moving = [model for model in on_old if self._supports(runtime, model)]
            if moving:
                try:
                    new = await self._pool.acquire(runtime)
                except Exception as exc:
                    log.warning("runtime %s: new instances do not start (%s); the old ones keep serving",
                                runtime.name, exc)
                    return
                failures = await self._reload_on(moving, old, new)
            else:
                failures = {}
            await self._drop_copies(old)
            await self._pool.finish_rollout(runtime)
            for model, (exc, handle) in failures.items():
                if not model.copies:
                    self._fail(model, exc, handle)
            for model in on_old:
                if model not in moving:
                    self._spawn(self._reselect(model), f"reselect {model.model_id}")
            log.info("runtime %s: %d instance(s) replaced, %d model(s) moved", runtime.name, len(old),
                     len(moving) - len(failures))

    async def _reload_on(self, models: list[ConcreteModel], old: set[RuntimeHandle],
                         new: list[RuntimeHandle]) -> dict[ConcreteModel, tuple[Exception, RuntimeHandle]]:
        """Load each model on the new instances as many times as it was loaded on the old ones."""
        failures: dict[ConcreteModel, tuple[Exception, RuntimeHandle]] = {}
        for model in models:
            wanted = sum(1 for copy in model.copies.values() if copy.loaded and copy.handle in old)
            for _ in range(min(wanted, len(new))):
                if self._models.get(model.model_id) is not model or model.load_task is not None:
                    break
                handle = self._choose_instance(model, new, requested=False, last_used=model.last_used)
                if handle is None:
                    break
                try:
                    await self._load_copy(model, handle, model.last_used)
                except Exception as exc:
                    failures[model] = (exc, handle)
                    break
        return failures

    async def _remove_instances(self, detached: Detached) -> None:
        """Unload and stop instances taken out of the pool; their models go to whichever runtime supports them."""
        handles = set(detached.handles)
        affected = set(self._models_on(handles))
        for model in affected:
            if model.load_task is not None and any(not copy.loaded for copy in model.copies.values()
                                                   if copy.handle in handles):
                model.load_task.cancel()
        # Loads still waiting for an instance to start may be waiting for one of these.
        affected.update(model for model in self._models.values()
                        if model.load_task is not None and not model.copies and model.state is ModelState.LOADING)
        await self._drop_copies(handles)
        await self._pool.stop_detached(detached)
        for model in affected:
            self._spawn(self._reselect(model), f"reselect {model.model_id}")

    async def _reselect(self, model: ConcreteModel) -> None:
        if model.load_task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(model.load_task)
        if self._models.get(model.model_id) is model and not model.servable_copies() and model.load_task is None \
                and model.state in (ModelState.STANDBY, ModelState.FAILED_TO_LOAD):
            self._start_load(model, requested=False)

    async def _drop_copies(self, handles: set[RuntimeHandle]) -> None:
        """Forget the copies on these instances, then unload them and remove their files."""
        unloads = []
        for model in list(self._models.values()):
            for copy in [copy for copy in model.copies.values() if copy.handle in handles]:
                self._forget_copy(copy)
                unloads.append(self._unload_copy(copy.handle, model.model_id))
        await asyncio.gather(*unloads)

    def _supports(self, runtime: ServingRuntime, model: ConcreteModel) -> bool:
        try:
            return runtime_key(runtime) in {runtime_key(rt) for rt in self._registry.runtimes_for(model.model)}
        except EmulatorError:
            return False

    def _models_on(self, handles: set[RuntimeHandle]) -> list[ConcreteModel]:
        return [model for model in self._models.values()
                if any(copy.handle in handles for copy in model.copies.values())]

    async def _settle_loads(self) -> None:
        """Wait for loads under way, which may be landing on instances about to be replaced."""
        pending = [model.load_task for model in self._models.values() if model.load_task is not None]
        if pending:
            await asyncio.wait(pending)
