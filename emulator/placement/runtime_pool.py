"""Running runtime instances: `replicas` per runtime, started on demand (one start in flight per slot),
replaced when they die (with backoff), stopped when scaled to zero and at shutdown.

Like a runtime's Deployment, the instances of a runtime share one pod template (`pod_template`). When it
changes, `begin_rollout` sets the running instances aside (they keep serving) and the next `acquire` starts
instances from the new spec; `finish_rollout` stops the old ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from ..adapters import SPI_ADAPTER, AdapterFactory, RuntimeAdapter, RuntimeStatus
from ..adapters.runtime_env import adapter_env
from ..errors import RuntimeStartError, UnsupportedError
from ..events import EventRecorder
from ..launchers import Launcher, RuntimeInstance
from ..launchers.process import SOURCE_ANNOTATION
from ..spec import ServingRuntime
from .instance_cache import InstanceCache

__all__ = ["Detached", "RuntimeHandle", "RuntimePool", "pod_template", "runtime_key"]

log = logging.getLogger(__name__)

_UNLIMITED = -1
_RESTART_BACKOFF_S = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)
# Annotations that reach the runtime pod: the controller turns the first two into adapter env; the last is
# where the process launcher finds the runtime's source.
_POD_ANNOTATIONS = ("maxLoadingConcurrency", "perModelConcurrencyLimit", SOURCE_ANNOTATION)


def runtime_key(runtime: ServingRuntime) -> str:
    if runtime.is_cluster_scoped:
        return f"cluster/{runtime.metadata.name}"
    return f"{runtime.metadata.namespace}/{runtime.metadata.name}"


def pod_template(runtime: ServingRuntime) -> dict[str, object]:
    """What the runtime's Deployment pod template is made from: the spec less `replicas`, and the annotations
    that reach the pod. Instances started from another template are out of date."""
    annotations = runtime.metadata.annotations
    template: dict[str, object] = {
        "spec": runtime.spec.model_dump(exclude={"replicas"}),
        "annotations": {key: annotations[key] for key in _POD_ANNOTATIONS if key in annotations},
    }
    if SOURCE_ANNOTATION in annotations:
        template["source"] = runtime.source
    return template


@dataclass(eq=False)
class RuntimeHandle:
    runtime: ServingRuntime
    instance: RuntimeInstance
    adapter: RuntimeAdapter
    status: RuntimeStatus
    data_channel: grpc.aio.Channel
    load_slots: asyncio.Semaphore = field(init=False)
    cache: InstanceCache = field(init=False)
    started_at: float = field(default_factory=time.time)
    restarts: int = 0
    """How often the instance's slot started a new one after an exit or a restart (a Pod's restartCount)."""

    def __post_init__(self) -> None:
        self.load_slots = asyncio.Semaphore(self.status.max_loading_concurrency)
        self.cache = InstanceCache(self.status.capacity_bytes, loading_threads=self.status.max_loading_concurrency,
                                   default_model_size=self.status.default_model_size_bytes)

    @property
    def location(self) -> str:
        return self.instance.instance_id

    @property
    def runtime_name(self) -> str:
        return self.runtime.metadata.name


@dataclass
class _Slot:
    handle: RuntimeHandle | None = None
    starting: asyncio.Task[RuntimeHandle] | None = None
    failures: int = 0
    next_start: float = 0.0
    restarts: int = 0


@dataclass(eq=False)
class Detached:
    """Instances taken out of the pool, still running until the pool stops them."""

    slots: list[_Slot]

    @property
    def handles(self) -> list[RuntimeHandle]:
        return [slot.handle for slot in self.slots if slot.handle is not None]


class RuntimePool:
    def __init__(self, launcher: Launcher, adapters: dict[str, AdapterFactory], work_dir: Path, *,
                 default_replicas: int = 1):
        self._launcher = launcher
        self._adapters = adapters
        self._work_dir = work_dir
        self.default_replicas = default_replicas
        """Instances per runtime without `replicas` (podsPerRuntime); the model-serving-config ConfigMap changes it."""
        self._slots: dict[str, list[_Slot]] = {}
        self._templates: dict[str, dict[str, object]] = {}
        self.events = EventRecorder()
        self._retiring: dict[str, list[_Slot]] = {}
        """Instances of an older template, serving until `finish_rollout`."""
        self._detached: set[Detached] = set()

    def handles(self) -> list[RuntimeHandle]:
        """Every instance, including those of a rollout in progress."""
        groups = [*self._slots.values(), *self._retiring.values()]
        return [slot.handle for slots in groups for slot in slots if slot.handle is not None]

    def running(self, runtime: ServingRuntime) -> list[RuntimeHandle]:
        return [slot.handle for slot in self._slots.get(runtime_key(runtime), [])
                if slot.handle is not None and slot.handle.instance.is_running()]

    def replicas(self, runtime: ServingRuntime) -> int:
        return runtime.spec.replicas or self.default_replicas

    async def acquire(self, runtime: ServingRuntime) -> list[RuntimeHandle]:
        """All running instances of `runtime`, starting (or restarting) any that are missing."""
        key = runtime_key(runtime)
        if key not in self._slots:
            self._templates[key] = pod_template(runtime)
        slots = self._slots.setdefault(key, [])
        slots.extend(_Slot() for _ in range(self.replicas(runtime) - len(slots)))
        tasks = [self._ensure(runtime, slot) for slot in slots]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        handles = [result for result in results if isinstance(result, RuntimeHandle)]
        if handles:
            return handles
        error = next(result for result in results if isinstance(result, BaseException))
        raise error

    def is_outdated(self, runtime: ServingRuntime) -> bool:
        """Whether the runtime has instances (or slots) from a pod template other than its current one."""
        key = runtime_key(runtime)
        return key in self._slots and self._templates.get(key) != pod_template(runtime)

    def begin_rollout(self, runtime: ServingRuntime) -> list[RuntimeHandle]:
        """Set the runtime's instances aside (see `retiring`); they keep serving, and `acquire` starts new ones."""
        key = runtime_key(runtime)
        self._retiring.setdefault(key, []).extend(self._slots.pop(key, []))
        self._templates.pop(key, None)
        return self.retiring(runtime)

    def retiring(self, runtime: ServingRuntime) -> list[RuntimeHandle]:
        return [slot.handle for slot in self._retiring.get(runtime_key(runtime), []) if slot.handle is not None]

    async def finish_rollout(self, runtime: ServingRuntime) -> None:
        await self._stop_slots(self._retiring.pop(runtime_key(runtime), []))

    def detach(self, runtime: ServingRuntime) -> Detached:
        """Take every instance of the runtime out of the pool; no new load reaches them. Stop them with
        `stop_detached`."""
        key = runtime_key(runtime)
        self._templates.pop(key, None)
        return self._park([*self._slots.pop(key, []), *self._retiring.pop(key, [])])

    def scale_in(self, runtime: ServingRuntime) -> Detached:
        """Take the instances beyond `replicas` out of the pool, as `detach`."""
        slots = self._slots.get(runtime_key(runtime), [])
        extra = slots[self.replicas(runtime):]
        del slots[self.replicas(runtime):]
        return self._park(extra)

    async def stop_detached(self, detached: Detached) -> None:
        self._detached.discard(detached)
        await self._stop_slots(detached.slots)

    def _park(self, slots: list[_Slot]) -> Detached:
        detached = Detached(slots)
        self._detached.add(detached)
        return detached

    async def stop_runtime(self, runtime: ServingRuntime) -> None:
        key = runtime_key(runtime)
        self._templates.pop(key, None)
        await self._stop_slots([*self._slots.pop(key, []), *self._retiring.pop(key, [])])

    async def stop_all(self) -> None:
        groups = [*self._slots.values(), *self._retiring.values(), *(d.slots for d in self._detached)]
        self._slots.clear()
        self._retiring.clear()
        self._detached.clear()
        self._templates.clear()
        await self._stop_slots([slot for group in groups for slot in group])

    async def _stop_slots(self, slots: list[_Slot]) -> None:
        await asyncio.gather(*(self._stop_slot(slot) for slot in slots))

    async def _ensure(self, runtime: ServingRuntime, slot: _Slot) -> RuntimeHandle:
        if slot.handle is not None and slot.handle.instance.is_running():
            return slot.handle
        if slot.handle is not None:
            log.warning("runtime %s instance %s exited; starting a new one", runtime.metadata.name,
                        slot.handle.location)
            self._runtime_event(runtime, "InstanceExited", f"runtime instance {slot.handle.location} exited; starting "
                                "a new one", warning=True)
            dead, slot.handle = slot.handle, None
            slot.restarts += 1
            await _close(dead)
        if slot.starting is None:
            slot.starting = asyncio.create_task(self._start_with_backoff(runtime, slot))
        return await asyncio.shield(slot.starting)

    async def _start_with_backoff(self, runtime: ServingRuntime, slot: _Slot) -> RuntimeHandle:
        try:
            delay = slot.next_start - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            handle = await self._start(runtime)
        except Exception:
            slot.failures += 1
            backoff = _RESTART_BACKOFF_S[min(slot.failures, len(_RESTART_BACKOFF_S) - 1)]
            slot.next_start = time.monotonic() + backoff
            raise
        finally:
            slot.starting = None
        slot.handle, slot.failures, handle.restarts = handle, 0, slot.restarts
        return handle

    async def restart(self, handle: RuntimeHandle) -> RuntimeHandle:
        """Stop the instance and start its replacement in the same slot (`kubectl delete pod`)."""
        slot = next((slot for slots in self._slots.values() for slot in slots if slot.handle is handle), None)
        if slot is None:
            raise RuntimeStartError(f"runtime instance {handle.location} is no longer part of the pool")
        slot.handle = None
        slot.restarts = 0  # a new Pod, as the ReplicaSet makes one
        self._runtime_event(handle.runtime, "InstanceDeleted", f"runtime instance {handle.location} deleted; "
                            "starting a new one")
        await _close(handle)
        return await self._ensure(handle.runtime, slot)

    async def _start(self, runtime: ServingRuntime) -> RuntimeHandle:
        # No builtInAdapter: the runtime's own container speaks mmesh.ModelRuntime.
        server_type = runtime.spec.built_in_adapter.server_type if runtime.spec.built_in_adapter else SPI_ADAPTER
        factory = self._adapters.get(server_type or "")
        if factory is None:
            raise UnsupportedError(
                f"ServingRuntime {runtime.metadata.name!r}: no adapter for builtInAdapter.serverType "
                f"{server_type!r} (available: {', '.join(sorted(self._adapters))})"
            )
        if runtime.spec.built_in_adapter is not None:
            adapter_env(runtime)  # a configuration the adapter would refuse (no memory request) starts no process
        instance_id = f"{runtime.metadata.name}-{secrets.token_hex(4)}"
        log.info("starting runtime %s instance %s (%s launcher)", runtime.metadata.name, instance_id,
                 self._launcher.name)
        self._runtime_event(runtime, "InstanceStarting", f"starting runtime instance {instance_id} "
                            f"({self._launcher.name} launcher)")
        instance = await self._launcher.start(runtime, instance_id, self._work_dir / instance_id)
        adapter: RuntimeAdapter | None = None
        try:
            adapter = factory(runtime, instance)
            status = await adapter.runtime_status()
        except BaseException as exc:
            # Startup timeout, crash, adapter error, or the start cancelled: nothing may keep running.
            if adapter is not None:
                with contextlib.suppress(Exception):
                    await adapter.close()
            await _stop_surely(instance)
            if not isinstance(exc, asyncio.CancelledError):
                self._runtime_event(runtime, "InstanceFailed", f"runtime instance {instance_id} did not start: "
                                    f"{exc.details() if isinstance(exc, grpc.aio.AioRpcError) else exc}",
                                    warning=True)
            if isinstance(exc, grpc.aio.AioRpcError):
                raise RuntimeStartError(
                    f"runtime {runtime.metadata.name!r} instance {instance_id}: {exc.details()}"
                ) from None
            raise
        channel = grpc.aio.insecure_channel(
            instance.ports.data,
            options=[("grpc.max_receive_message_length", _UNLIMITED),
                     ("grpc.max_send_message_length", _UNLIMITED)],
        )
        handle = RuntimeHandle(runtime, instance, adapter, status, channel)
        log.info("runtime %s instance %s ready: capacity %d bytes, version %s", runtime.metadata.name,
                 instance_id, status.capacity_bytes, status.runtime_version)
        self._runtime_event(runtime, "InstanceReady", f"runtime instance {instance_id} ready: capacity "
                            f"{status.capacity_bytes} bytes, runtime version {status.runtime_version}")
        return handle

    def _runtime_event(self, runtime: ServingRuntime, reason: str, message: str, *, warning: bool = False) -> None:
        self.events.record(runtime.kind, runtime.metadata.namespace, runtime.metadata.name, reason, message,
                           warning=warning)

    @staticmethod
    async def _stop_slot(slot: _Slot) -> None:
        if slot.starting is not None:
            slot.starting.cancel()
            with contextlib.suppress(BaseException):
                await slot.starting
        if slot.handle is not None:
            handle, slot.handle = slot.handle, None
            await _close(handle)


async def _close(handle: RuntimeHandle) -> None:
    with contextlib.suppress(Exception):
        await handle.data_channel.close()
        await handle.adapter.close()
    await _stop_surely(handle.instance)


async def _stop_surely(instance: RuntimeInstance) -> None:
    """Stop the instance even if the task stopping it is cancelled meanwhile (the cancellation is delivered after)."""
    stopping = asyncio.ensure_future(instance.stop())
    try:
        await asyncio.shield(stopping)
    except asyncio.CancelledError:
        await asyncio.shield(stopping)
        raise
