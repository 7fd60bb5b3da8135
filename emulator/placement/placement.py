"""Make models servable the way ModelMesh does: vmodels, per-instance LRU caches, single-flight loads,
churn protection, transitions, failures, second copies and scale-to-zero.

A vmodel (InferenceService or Predictor name) points at an active concrete model and, while an update
is in progress, a target one. The active model keeps serving until the target is Loaded; a failed target
leaves the vmodel BlockedByFailedLoad. Each runtime instance has a byte budget (`InstanceCache`); a load
that does not fit evicts least-recently-used models, which go to Standby and load again on their next use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..adapters import LoadRequest, SpiRuntimeAdapter
from ..errors import LoadTimeoutError, ModelLoadError, ModelNotFoundError, RuntimeStartError
from ..events import EventRecorder
from ..metrics import InstanceGauges, Metrics, ModelCounts
from ..registry import RegisteredModel, Registry
from ..settings import Settings
from ..spec import ServingRuntime
from ..storage import EMBEDDED_STORAGE_CONFIG, PulledModel, Puller, resolve_storage
from .api import ApiModelRecord, ApiModels
from .events import PlacementEvents
from .failures import FailedLoads
from .instance_cache import UNIT_SIZE, units
from .load_queue import LoadQueues, LoadTicket
from .model_state import ConcreteModel, LoadedCopy, ModelState
from .runtime_changes import RuntimeChanges
from .runtime_pool import RuntimeHandle, RuntimePool, runtime_key
from .scale_to_zero import ScaleToZero
from .second_copies import SecondCopies
from .unloading import Unloading

__all__ = ["Placement", "VModel"]

log = logging.getLogger(__name__)

_MODEL_KINDS = ("InferenceService", "Predictor")
# Newly applied models count as used this long ago, so they never evict recently used ones (VModelManager).
_PROACTIVE_LAST_USED_AGE_S = 3600.0


class ChurnRejected(ModelLoadError):
    """The request's load was refused because every candidate instance is full of recently used models."""


@dataclass(eq=False)
class VModel:
    model: RegisteredModel
    active: ConcreteModel
    target: ConcreteModel | None = None


def _gb(size_bytes: int) -> str:
    return f"{size_bytes / 1024**3:.3f}GiB"


class Placement(FailedLoads, Unloading, SecondCopies, RuntimeChanges, ScaleToZero, ApiModels, PlacementEvents):
    def __init__(self, registry: Registry, pool: RuntimePool, puller: Puller, settings: Settings,
                 metrics: Metrics | None = None):
        self._registry = registry
        self._pool = pool
        self._puller = puller
        self._settings = settings
        self._metrics = metrics or Metrics()
        self._vmodels: dict[tuple[str, str], VModel] = {}
        self._models: dict[str, ConcreteModel] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._scale_downs: dict[str, asyncio.Task[None]] = {}
        self._rollouts: dict[str, asyncio.Lock] = {}
        self._runtime_tasks: set[asyncio.Task[Any]] = set()
        self._api_models: dict[str, ApiModelRecord] = {}
        """Models registered through mmesh.ModelMesh (placement_api.py), by id."""
        self._load_queues = LoadQueues()
        self._teardowns: dict[str, asyncio.Task[None]] = {}
        """Unloads of retired concrete models, by id: a model applied again under the same id waits for them."""
        self._unloading: dict[tuple[str, str], asyncio.Future[None]] = {}
        """Unloads in progress by (instance, model id): a load of that id there waits for them, as in ModelMesh."""
        self._metrics.observe_state(self._model_counts, self._instance_gauges)
        self.events = EventRecorder()

    # -- desired state -------------------------------------------------------------------------------

    def on_registry_change(self, event: str, obj: Any) -> None:
        if obj.kind in _MODEL_KINDS:
            key = (obj.metadata.namespace or "", obj.metadata.name)
            if self._vmodel_taken_by_api(key, obj.kind):
                pass
            elif event == "deleted":
                self._delete_vmodel(key)
            else:
                model = self._registry.model(obj.metadata.name, obj.metadata.namespace)
                if model is not None:
                    self._set_vmodel(key, model)
        elif isinstance(obj, ServingRuntime):
            self._runtime_changed(event, obj)
            self._retry_models_waiting_for_runtime()
        if event != "added" or isinstance(obj, ServingRuntime):
            self._review_scale_to_zero()

    def _set_vmodel(self, key: tuple[str, str], model: RegisteredModel) -> None:
        self._cancel_scale_downs_for(model)
        vmodel = self._vmodels.get(key)
        if vmodel is None:
            concrete = self._new_model(model)
            self._vmodels[key] = VModel(model, concrete)
            if self._settings.load_on_apply:
                self._start_load(concrete, requested=False)
            return
        vmodel.model = model
        if model.concrete_id == vmodel.active.model_id:
            vmodel.active.model = model
            return
        if vmodel.target is not None and vmodel.target.model_id == model.concrete_id:
            return
        if vmodel.target is not None:
            self._retire(vmodel.target)
        new = self._new_model(model)
        if vmodel.active.state is not ModelState.LOADED:
            self._retire(vmodel.active)
            vmodel.active, vmodel.target = new, None
            if self._settings.load_on_apply:
                self._start_load(new, requested=False)
            return
        vmodel.target = new
        self._start_load(new, requested=False)

    def _delete_vmodel(self, key: tuple[str, str]) -> None:
        vmodel = self._vmodels.pop(key, None)
        if vmodel is None:
            return
        for model in (vmodel.active, vmodel.target):
            if model is not None:
                self._retire(model)

    def _new_model(self, model: RegisteredModel) -> ConcreteModel:
        concrete = ConcreteModel(model, last_used=time.time() - _PROACTIVE_LAST_USED_AGE_S)
        if model.concrete_id is not None:
            self._models[model.concrete_id] = concrete
        return concrete

    # -- serving ---------------------------------------------------------------------------------------

    def vmodel(self, name: str, namespace: str) -> VModel | None:
        return self._vmodels.get((namespace, name))

    def vmodels(self) -> list[VModel]:
        return list(self._vmodels.values())

    async def route(self, name: str, namespace: str) -> LoadedCopy:
        """A loaded copy of vmodel `name`'s active model, loading it first if needed."""
        vmodel = self._vmodels.get((namespace, name))
        if vmodel is None:
            raise ModelNotFoundError(f"vmodel not found: {name}")
        return await self._servable(vmodel.active)

    async def route_concrete(self, model_id: str) -> LoadedCopy:
        model = self._models.get(model_id)
        if model is None:
            raise ModelNotFoundError(f"model not found: {model_id}")
        return await self._servable(model)

    def invalidate(self, copy: LoadedCopy) -> None:
        """The runtime no longer knows a model we believed loaded there: forget that copy."""
        if copy.model.copies.get(copy.location) is copy:
            log.warning("model %s vanished from runtime instance %s; will reload", copy.model_id, copy.location)
            self._forget_copy(copy)

    async def _servable(self, model: ConcreteModel) -> LoadedCopy:
        waited_since = None
        for _ in range(3):
            copy = self._pick_copy(model)
            if copy is not None:
                if waited_since is not None:
                    self._metrics.cache_miss.observe((time.perf_counter() - waited_since) * 1000)
                self._maybe_add_second_copy(model)
                return copy
            if model.state is ModelState.FAILED_TO_LOAD and model.load_task is None:
                raise self._refuse_failed(model)
            waited_since = waited_since or time.perf_counter()
            if model.load_ticket is not None:
                model.load_ticket.upgrade_for_request()
            task = model.load_task or self._start_load(model, requested=True)
            await asyncio.shield(task)
        if model.failure is not None and model.state is ModelState.FAILED_TO_LOAD:
            raise self._refuse_failed(model)
        raise RuntimeStartError(f"model {model.model_id} is not loaded ({model.state})")

    def _pick_copy(self, model: ConcreteModel) -> LoadedCopy | None:
        for copy in list(model.copies.values()):
            if copy.loaded and not copy.handle.instance.is_running():
                self._forget_copy(copy)
        copies = model.servable_copies()
        if not copies:
            return None
        copy = copies[model.requests % len(copies)]
        model.requests += 1
        now = time.time()
        model.use(now)
        for each in copies:
            each.handle.cache.touch(model.model_id, now)
        return copy

    # -- loading ---------------------------------------------------------------------------------------

    def _start_load(self, model: ConcreteModel, *, requested: bool) -> asyncio.Task[None]:
        if model.load_task is None:
            model.load_ticket = LoadTicket.for_request() if requested else LoadTicket(model.last_used)
            model.load_task = asyncio.create_task(self._load(model, requested), name=f"load {model.model_id}")
            model.load_task.add_done_callback(lambda task: self._load_done(model, task))
        return model.load_task

    @staticmethod
    def _load_done(model: ConcreteModel, task: asyncio.Task[None]) -> None:
        model.load_task = model.load_ticket = None
        if not task.cancelled():
            task.exception()  # a churn rejection nobody awaited is not worth a warning

    async def _load(self, model: ConcreteModel, requested: bool) -> None:
        previous_state = model.state
        model.state = ModelState.LOADING
        handle: RuntimeHandle | None = None
        try:
            await self._after_teardown(model.model_id)
            registered = model.model
            if registered.spec_error is not None:
                raise ModelLoadError(registered.spec_error, reason="InvalidPredictorSpec")
            candidates = self._registry.runtimes_for(registered)
            runtime = self._choose_runtime(candidates)
            self._runtime_selected_event(model, runtime, candidates)
            handles = await self._pool.acquire(runtime)
            last_used = time.time() if requested else model.last_used
            handle = self._choose_instance(model, handles, requested=requested, last_used=last_used)
            if handle is None:  # cache fall-through: everything resident is more recently used
                model.state = ModelState.STANDBY if previous_state is not ModelState.PENDING else previous_state
                log.info("model %s not loaded: no room without evicting more recently used models",
                         model.model_id)
                return
            model.loads += 1
            if await self._load_copy(model, handle, last_used) is None:
                model.state = ModelState.STANDBY
                return
        except ChurnRejected:
            model.state = previous_state
            raise
        except asyncio.CancelledError:
            model.state = ModelState.STANDBY
            raise
        except Exception as exc:
            self._fail(model, exc, handle)
        else:
            model.state, model.failure, model.failed_at = ModelState.LOADED, None, None
            self._complete_transition(model)

    async def _load_copy(self, model: ConcreteModel, handle: RuntimeHandle, last_used: float) -> LoadedCopy | None:
        """Load a copy on `handle`; None when, at its real size, it was the least recently used and was evicted."""
        cache, model_id = handle.cache, model.model_id
        predicted = handle.status.default_model_size_bytes
        if not cache.fits(units(predicted)):
            raise ModelLoadError(f"Predicted size of {_gb(predicted)} for model {model_id} is larger than total "
                                 f"effective capacity of {_gb(cache.capacity_bytes)}")
        copy = LoadedCopy(model, handle)
        model.copies[handle.location] = copy
        await self._evict(handle, cache.insert(model_id, units(predicted), last_used), model)
        queued = time.perf_counter()
        try:
            await self._after_unload(handle, model_id)
            ticket = model.load_ticket or LoadTicket(last_used)
            async with self._load_queues.of(handle).slot(ticket):
                self._metrics.loading_queue_delay.observe((time.perf_counter() - queued) * 1000)
                started = time.perf_counter()
                self._model_event(model, "Loading", f"loading model {model_id} on instance {handle.location}")
                size = await self._pull_and_load(model, handle)
                self._metrics.load.observe((time.perf_counter() - started) * 1000)
            if not cache.fits(units(size)):
                raise ModelLoadError(f"Size of {_gb(size)} for model {model_id} is larger than total effective "
                                     f"capacity of {_gb(cache.capacity_bytes)}")
            evicted = cache.resize(model_id, units(size))
            await self._evict(handle, [evicted_id for evicted_id in evicted if evicted_id != model_id], model)
        except BaseException:
            if model.copies.get(handle.location) is copy:
                del model.copies[handle.location]
            cache.remove(model_id)
            await self._unload_copy(handle, model_id)
            raise
        if model_id in evicted:
            model.copies.pop(handle.location, None)
            self._metrics.age_at_eviction.observe((time.time() - last_used) * 1000)
            await self._unload_copy(handle, model_id)
            log.info("model %s unloaded from %s right after loading: at %d bytes it does not fit without evicting "
                     "models used more recently (its last use counts as %.0fs ago)", model_id, handle.location, size,
                     time.time() - last_used)
            return None
        copy.loaded, copy.size_bytes, copy.loaded_at = True, size, time.time()
        self._metrics.loaded_model_size.observe(size)
        log.info("model %s loaded on %s (%d bytes; instance %d/%d bytes used)", model_id, handle.location, size,
                 cache.used_bytes, cache.capacity_bytes)
        self._loaded_event(model, handle, size, time.perf_counter() - started)
        return copy

    async def _pull_and_load(self, model: ConcreteModel, handle: RuntimeHandle) -> int:
        """The adapter's loadModel: pull the files and load them, within `modelLoadingTimeoutMillis`."""
        registered = model.model
        assert registered.predictor is not None
        timeout_s = handle.status.model_loading_timeout_ms / 1000
        try:
            async with asyncio.timeout(timeout_s):
                config = self._registry.storage_config(registered.namespace) or EMBEDDED_STORAGE_CONFIG
                location = registered.predictor.storage_location()

                async def pull() -> PulledModel:
                    return await self._pull_recorded(model, self._puller.pull(
                        model.model_id, resolve_storage(location, config), handle.instance.models_dir))

                if isinstance(handle.adapter, SpiRuntimeAdapter):
                    return await handle.adapter.load_request(LoadRequest(
                        model.model_id, registered.type_string or "", location, registered.predictor.model_type,
                        pull, lambda size: self._reserve_predicted(model, handle, size),
                        self.api_model_key(model.model_id)))
                pulled = await pull()
                self._check_predicted_size(model, handle, pulled)
                return await handle.adapter.load_model(model.model_id, registered.predictor.model_type.name, pulled)
        except TimeoutError:
            raise LoadTimeoutError(f"Load of model {model.model_id} timed out after {int(timeout_s)}sec") from None

    @staticmethod
    def _check_predicted_size(model: ConcreteModel, handle: RuntimeHandle, pulled: PulledModel) -> None:
        predicted = int(pulled.disk_size_bytes * 1.25)
        if not handle.cache.fits(units(predicted)):
            raise ModelLoadError(
                f"Predicted size of {_gb(predicted)} for model {model.model_id} is larger than total effective "
                f"capacity of {_gb(handle.cache.capacity_bytes)}"
            )

    async def _reserve_predicted(self, model: ConcreteModel, handle: RuntimeHandle, predicted: int) -> None:
        """A runtime's `predictModelSize` answer becomes the copy's weight until its real size is known."""
        if not handle.cache.fits(units(predicted)):
            raise ModelLoadError(
                f"Predicted size of {_gb(predicted)} for model {model.model_id} is larger than total effective "
                f"capacity of {_gb(handle.cache.capacity_bytes)}"
            )
        await self._evict(handle, handle.cache.resize(model.model_id, units(predicted), loading=True), model)

    def _choose_runtime(self, candidates: list[ServingRuntime]) -> ServingRuntime:
        running = {runtime_key(handle.runtime) for handle in self._pool.handles()}
        return next((rt for rt in candidates if runtime_key(rt) in running), candidates[0])

    def _choose_instance(self, model: ConcreteModel, handles: list[RuntimeHandle], *, requested: bool,
                         last_used: float) -> RuntimeHandle | None:
        """ModelMesh's placement order: non-full first, then the oldest LRU, fewest models, most free space."""
        candidates = [handle for handle in handles if handle.location not in model.copies]

        def order(handle: RuntimeHandle) -> tuple[bool, float, int, int]:
            cache = handle.cache
            full = cache.is_full()
            return full, (cache.oldest_last_used() or 0.0) if full else 0.0, len(cache), -cache.remaining_units

        now = time.time()
        for handle in sorted(candidates, key=order):
            predicted = units(handle.status.default_model_size_bytes)
            if not requested:
                if not handle.cache.would_evict_newer(predicted, last_used):
                    return handle
                continue
            oldest = handle.cache.oldest_last_used()
            churn_age = self._min_churn_age_s(handle)
            if churn_age > 0 and handle.cache.is_full() and oldest is not None and now - oldest < churn_age:
                log.warning("rejecting load of %s in instance %s: oldest loaded model is too recent (%.1fs)",
                            model.model_id, handle.location, now - oldest)
                self._churn_event(model, handle, now - oldest, churn_age)
                continue
            return handle
        if requested and candidates:
            raise ChurnRejected("Cache churn threshold exceeded")
        return None

    def _min_churn_age_s(self, handle: RuntimeHandle) -> float:
        if self._settings.min_churn_age_s is not None:
            return self._settings.min_churn_age_s
        return 10 * max(3.0, handle.status.model_loading_timeout_ms / 3000)

    def _complete_transition(self, model: ConcreteModel) -> None:
        for vmodel in self._vmodels.values():
            if vmodel.target is model:
                old, vmodel.active, vmodel.target = vmodel.active, model, None
                self._retire(old)
                return

    # -- background tasks ------------------------------------------------------------------------------

    def _spawn(self, coro: Any, name: str, *also: set[asyncio.Task[Any]]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        for tasks in (self._background, *also):
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return task

    # -- observation and shutdown ----------------------------------------------------------------------

    def _model_counts(self) -> ModelCounts:
        models = list(self._models.values())
        return ModelCounts(
            loaded=sum(1 for model in models if model.servable_copies()),
            with_failure=sum(1 for model in models if model.state is ModelState.FAILED_TO_LOAD),
            managed=len(models),
        )

    def _instance_gauges(self) -> list[InstanceGauges]:
        return [
            InstanceGauges(pod=f"modelmesh-serving-{handle.location}", capacity_bytes=handle.cache.capacity_bytes,
                           used_bytes=handle.cache.used_units * UNIT_SIZE, models=len(handle.cache),
                           lru_time_s=handle.cache.oldest_last_used())
            for handle in self._pool.handles()
        ]

    async def shutdown(self) -> None:
        self._stop_janitor()
        for task in [*self._scale_downs.values(), *self._runtime_tasks]:
            task.cancel()
        for model in list(self._models.values()):
            if model.load_task is not None:
                model.load_task.cancel()
        await asyncio.gather(*self._background, *self._scale_downs.values(), return_exceptions=True)
