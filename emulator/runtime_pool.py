"""Running runtime instances: `replicas` per runtime, started on demand (one start in flight per slot),
replaced when they die (with backoff), stopped when scaled to zero and at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from .adapters import AdapterFactory, RuntimeAdapter, RuntimeStatus
from .errors import RuntimeStartError, UnsupportedError
from .instance_cache import InstanceCache
from .launchers import Launcher, RuntimeInstance
from .spec import ServingRuntime

__all__ = ["RuntimeHandle", "RuntimePool", "runtime_key"]

log = logging.getLogger(__name__)

_UNLIMITED = -1
_RESTART_BACKOFF_S = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)


def runtime_key(runtime: ServingRuntime) -> str:
    if runtime.is_cluster_scoped:
        return f"cluster/{runtime.metadata.name}"
    return f"{runtime.metadata.namespace}/{runtime.metadata.name}"


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


class RuntimePool:
    def __init__(self, launcher: Launcher, adapters: dict[str, AdapterFactory], work_dir: Path, *,
                 default_replicas: int = 1):
        self._launcher = launcher
        self._adapters = adapters
        self._work_dir = work_dir
        self._default_replicas = default_replicas
        self._slots: dict[str, list[_Slot]] = {}

    def handles(self) -> list[RuntimeHandle]:
        return [slot.handle for slots in self._slots.values() for slot in slots if slot.handle is not None]

    def running(self, runtime: ServingRuntime) -> list[RuntimeHandle]:
        return [slot.handle for slot in self._slots.get(runtime_key(runtime), [])
                if slot.handle is not None and slot.handle.instance.is_running()]

    def replicas(self, runtime: ServingRuntime) -> int:
        return runtime.spec.replicas or self._default_replicas

    async def acquire(self, runtime: ServingRuntime) -> list[RuntimeHandle]:
        """All running instances of `runtime`, starting (or restarting) any that are missing."""
        slots = self._slots.setdefault(runtime_key(runtime), [])
        slots.extend(_Slot() for _ in range(self.replicas(runtime) - len(slots)))
        tasks = [self._ensure(runtime, slot) for slot in slots]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        handles = [result for result in results if isinstance(result, RuntimeHandle)]
        if handles:
            return handles
        error = next(result for result in results if isinstance(result, BaseException))
        raise error

    async def stop_runtime(self, runtime: ServingRuntime) -> None:
        slots = self._slots.pop(runtime_key(runtime), [])
        await asyncio.gather(*(self._stop_slot(slot) for slot in slots))

    async def stop_all(self) -> None:
        slots = [slot for group in self._slots.values() for slot in group]
        self._slots.clear()
        await asyncio.gather(*(self._stop_slot(slot) for slot in slots))

    async def _ensure(self, runtime: ServingRuntime, slot: _Slot) -> RuntimeHandle:
        if slot.handle is not None and slot.handle.instance.is_running():
            return slot.handle
        if slot.handle is not None:
            log.warning("runtime %s instance %s exited; starting a new one", runtime.metadata.name,
                        slot.handle.location)
            dead, slot.handle = slot.handle, None
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
        slot.handle, slot.failures = handle, 0
        return handle

    async def _start(self, runtime: ServingRuntime) -> RuntimeHandle:
        server_type = runtime.spec.built_in_adapter.server_type if runtime.spec.built_in_adapter else None
        factory = self._adapters.get(server_type or "")
        if factory is None:
            raise UnsupportedError(
                f"ServingRuntime {runtime.metadata.name!r}: no adapter for builtInAdapter.serverType "
                f"{server_type!r} (available: {', '.join(sorted(self._adapters))})"
            )
        instance_id = f"{runtime.metadata.name}-{secrets.token_hex(4)}"
        log.info("starting runtime %s instance %s (%s launcher)", runtime.metadata.name, instance_id,
                 self._launcher.name)
        instance = await self._launcher.start(runtime, instance_id, self._work_dir / instance_id)
        adapter = factory(runtime, instance)
        try:
            status = await adapter.runtime_status()
        except BaseException as exc:
            await adapter.close()
            await instance.stop()
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
        return handle

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
    await handle.instance.stop()
