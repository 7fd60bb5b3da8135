"""Make models servable: vmodels, single-flight loads on runtime instances, transitions and failures.

A vmodel (InferenceService or Predictor name) points at an active concrete model and, while an update
is in progress, a target one. The active model keeps serving until the target is Loaded (ModelMesh's
vmodel transition); a failed target leaves the vmodel BlockedByFailedLoad.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from .errors import (
    EmulatorError,
    LoadTimeoutError,
    ModelLoadError,
    ModelNotFoundError,
    RuntimeStartError,
)
from .model_state import FailureInfo, ModelCopy, ModelState
from .registry import RegisteredModel, Registry
from .runtime_pool import RuntimeHandle, RuntimePool
from .spec import ServingRuntime
from .storage import EMBEDDED_STORAGE_CONFIG, Puller, resolve_storage

__all__ = ["Placement", "VModel"]

log = logging.getLogger(__name__)

_MODEL_KINDS = ("InferenceService", "Predictor")
_SELECTION_REASONS = ("NoSupportingRuntime", "RuntimeNotRecognized", "RuntimeUnhealthy")


@dataclass(eq=False)
class VModel:
    model: RegisteredModel
    active: ModelCopy
    target: ModelCopy | None = None


class Placement:
    def __init__(self, registry: Registry, pool: RuntimePool, puller: Puller, *, load_on_apply: bool,
                 load_failure_expiry_s: float):
        self._registry = registry
        self._pool = pool
        self._puller = puller
        self._load_on_apply = load_on_apply
        self._failure_expiry_s = load_failure_expiry_s
        self._vmodels: dict[tuple[str, str], VModel] = {}
        self._copies: dict[str, ModelCopy] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # -- desired state -------------------------------------------------------------------------------

    def on_registry_change(self, event: str, obj: Any) -> None:
        if obj.kind in _MODEL_KINDS:
            key = (obj.metadata.namespace or "", obj.metadata.name)
            if event == "deleted":
                self._delete_vmodel(key)
                return
            model = self._registry.model(obj.metadata.name, obj.metadata.namespace)
            if model is not None:
                self._set_vmodel(key, model)
        elif isinstance(obj, ServingRuntime) and event != "deleted":
            self._retry_models_waiting_for_runtime()

    def _set_vmodel(self, key: tuple[str, str], model: RegisteredModel) -> None:
        vmodel = self._vmodels.get(key)
        if vmodel is None:
            copy = self._new_copy(model)
            self._vmodels[key] = VModel(model, copy)
            if self._load_on_apply:
                self._start_load(copy)
            return
        vmodel.model = model
        if model.concrete_id == vmodel.active.model_id:
            vmodel.active.model = model
            return
        if vmodel.target is not None and vmodel.target.model_id == model.concrete_id:
            return
        if vmodel.target is not None:
            self._retire(vmodel.target)
        new = self._new_copy(model)
        if vmodel.active.state is not ModelState.LOADED:
            self._retire(vmodel.active)
            vmodel.active, vmodel.target = new, None
            if self._load_on_apply:
                self._start_load(new)
            return
        vmodel.target = new
        self._start_load(new)

    def _delete_vmodel(self, key: tuple[str, str]) -> None:
        vmodel = self._vmodels.pop(key, None)
        if vmodel is None:
            return
        for copy in (vmodel.active, vmodel.target):
            if copy is not None:
                self._retire(copy)

    def _new_copy(self, model: RegisteredModel) -> ModelCopy:
        copy = ModelCopy(model)
        if model.concrete_id is not None:
            self._copies[model.concrete_id] = copy
        return copy

    def _retry_models_waiting_for_runtime(self) -> None:
        for copy in self._copies.values():
            if copy.state is ModelState.FAILED_TO_LOAD and copy.failure and \
                    copy.failure.reason in _SELECTION_REASONS:
                self._start_load(copy)

    # -- serving ---------------------------------------------------------------------------------------

    def vmodel(self, name: str, namespace: str) -> VModel | None:
        return self._vmodels.get((namespace, name))

    def vmodels(self) -> list[VModel]:
        return list(self._vmodels.values())

    async def route(self, name: str, namespace: str) -> ModelCopy:
        """The loaded active model of vmodel `name`, loading it first if needed."""
        vmodel = self._vmodels.get((namespace, name))
        if vmodel is None:
            raise ModelNotFoundError(f"vmodel not found: {name}")
        return await self._servable(vmodel.active)

    async def route_concrete(self, model_id: str) -> ModelCopy:
        copy = self._copies.get(model_id)
        if copy is None:
            raise ModelNotFoundError(f"model not found: {model_id}")
        return await self._servable(copy)

    def invalidate(self, copy: ModelCopy) -> None:
        """The runtime no longer knows a model we believed loaded: load it again on next use."""
        if copy.state is ModelState.LOADED:
            log.warning("model %s vanished from runtime %s; will reload", copy.model_id,
                        copy.handle.location if copy.handle else "?")
            copy.state, copy.handle = ModelState.STANDBY, None

    async def _servable(self, copy: ModelCopy) -> ModelCopy:
        for _ in range(2):
            if copy.state is ModelState.LOADED:
                if copy.handle is not None and copy.handle.instance.is_running():
                    copy.last_used = time.monotonic()
                    return copy
                copy.state, copy.handle = ModelState.STANDBY, None
            if copy.state is ModelState.FAILED_TO_LOAD and copy.load_task is None and \
                    not self._failure_expired(copy):
                assert copy.failure is not None
                raise ModelLoadError(copy.failure.message, reason=copy.failure.reason)
            task = copy.load_task or self._start_load(copy)
            await asyncio.shield(task)
        if copy.state is ModelState.LOADED and copy.handle is not None:
            copy.last_used = time.monotonic()
            return copy
        if copy.failure is not None:
            raise ModelLoadError(copy.failure.message, reason=copy.failure.reason)
        raise RuntimeStartError(f"model {copy.model_id} is not loaded ({copy.state})")

    def _failure_expired(self, copy: ModelCopy) -> bool:
        return copy.failed_at is not None and time.monotonic() - copy.failed_at >= self._failure_expiry_s

    # -- loading and unloading -------------------------------------------------------------------------

    def _start_load(self, copy: ModelCopy) -> asyncio.Task[None]:
        if copy.load_task is None:
            copy.load_task = asyncio.create_task(self._load(copy), name=f"load {copy.model_id}")
            copy.load_task.add_done_callback(lambda _: setattr(copy, "load_task", None))
        return copy.load_task

    async def _load(self, copy: ModelCopy) -> None:
        model = copy.model
        copy.state = ModelState.LOADING
        copy.loads += 1
        handle: RuntimeHandle | None = None
        try:
            if model.spec_error is not None:
                raise ModelLoadError(model.spec_error, reason="InvalidPredictorSpec")
            assert model.predictor is not None
            runtime = self._choose_runtime(self._registry.runtimes_for(model))
            handle = await self._pool.acquire(runtime)
            config = self._registry.storage_config(model.namespace) or EMBEDDED_STORAGE_CONFIG
            storage = resolve_storage(model.predictor.storage_location(), config)
            pulled = await self._puller.pull(copy.model_id, storage, handle.instance.models_dir)
            copy.size_bytes = await self._load_on(handle, copy, model.predictor.model_type.name, pulled)
        except asyncio.CancelledError:
            copy.state = ModelState.STANDBY
            await self._cleanup(copy, handle)
            raise
        except Exception as exc:
            self._fail(copy, exc, handle)
            await self._cleanup(copy, handle)
        else:
            copy.handle, copy.state, copy.failure, copy.failed_at = handle, ModelState.LOADED, None, None
            log.info("model %s loaded on %s (%d bytes)", copy.model_id, handle.location, copy.size_bytes)
            self._complete_transition(copy)

    async def _load_on(self, handle: RuntimeHandle, copy: ModelCopy, model_type: str, pulled: Any) -> int:
        timeout_s = handle.status.model_loading_timeout_ms / 1000
        async with handle.load_slots:
            try:
                return await asyncio.wait_for(handle.adapter.load_model(copy.model_id, model_type, pulled),
                                              timeout_s)
            except TimeoutError:
                raise LoadTimeoutError(f"Load of model {copy.model_id} timed out after {int(timeout_s)}sec") \
                    from None

    def _choose_runtime(self, candidates: list[ServingRuntime]) -> ServingRuntime:
        running = {handle.runtime.metadata.name for handle in self._pool.handles()}
        return next((rt for rt in candidates if rt.metadata.name in running), candidates[0])

    def _fail(self, copy: ModelCopy, exc: Exception, handle: RuntimeHandle | None) -> None:
        if isinstance(exc, RuntimeStartError):
            reason = "RuntimeUnhealthy"
        elif isinstance(exc, ModelLoadError):
            reason = exc.reason
        else:
            reason = "ModelLoadFailed"
        if not isinstance(exc, EmulatorError):
            log.exception("unexpected error loading model %s", copy.model_id)
        message = exc.message if isinstance(exc, EmulatorError) else f"{type(exc).__name__}: {exc}"
        location = handle.location if handle is not None and reason == "ModelLoadFailed" else None
        copy.failure = FailureInfo(reason=reason, message=message, model_id=copy.model_id, location=location)
        copy.state, copy.failed_at, copy.handle = ModelState.FAILED_TO_LOAD, time.monotonic(), None
        log.warning("model %s failed to load (%s): %s", copy.model_id, reason, message)

    def _complete_transition(self, copy: ModelCopy) -> None:
        for vmodel in self._vmodels.values():
            if vmodel.target is copy:
                old, vmodel.active, vmodel.target = vmodel.active, copy, None
                self._retire(old)
                return

    def _retire(self, copy: ModelCopy) -> None:
        """Forget a concrete model and unload it in the background."""
        if self._copies.get(copy.model_id) is copy:
            del self._copies[copy.model_id]
        task = asyncio.create_task(self._unload(copy), name=f"unload {copy.model_id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _unload(self, copy: ModelCopy) -> None:
        if copy.load_task is not None:
            copy.load_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await copy.load_task
        handle, copy.handle = copy.handle, None
        copy.state = ModelState.STANDBY
        await self._cleanup(copy, handle)

    async def _cleanup(self, copy: ModelCopy, handle: RuntimeHandle | None) -> None:
        if handle is None:
            return
        try:
            await handle.adapter.unload_model(copy.model_id)
        except Exception as exc:  # the runtime may already be gone; files are removed regardless
            log.debug("unload of %s on %s failed: %s", copy.model_id, handle.location, exc)
        await asyncio.to_thread(Puller.remove, copy.model_id, handle.instance.models_dir)

    async def shutdown(self) -> None:
        for copy in list(self._copies.values()):
            if copy.load_task is not None:
                copy.load_task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
