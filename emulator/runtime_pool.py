"""Running runtime instances: started on demand (at most one start in flight per runtime), stopped at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from .adapters import AdapterFactory, RuntimeAdapter, RuntimeStatus
from .errors import RuntimeStartError, UnsupportedError
from .launchers import Launcher, RuntimeInstance
from .spec import ServingRuntime

__all__ = ["RuntimeHandle", "RuntimePool", "runtime_key"]

log = logging.getLogger(__name__)

_UNLIMITED = -1


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

    def __post_init__(self) -> None:
        self.load_slots = asyncio.Semaphore(self.status.max_loading_concurrency)

    @property
    def location(self) -> str:
        return self.instance.instance_id


class RuntimePool:
    def __init__(self, launcher: Launcher, adapters: dict[str, AdapterFactory], work_dir: Path):
        self._launcher = launcher
        self._adapters = adapters
        self._work_dir = work_dir
        self._handles: dict[str, RuntimeHandle] = {}
        self._starting: dict[str, asyncio.Task[RuntimeHandle]] = {}

    def handles(self) -> list[RuntimeHandle]:
        return list(self._handles.values())

    async def acquire(self, runtime: ServingRuntime) -> RuntimeHandle:
        key = runtime_key(runtime)
        handle = self._handles.get(key)
        if handle is not None and handle.instance.is_running():
            return handle
        if handle is not None:
            log.warning("runtime %s instance %s exited; starting a new one", key, handle.location)
            await self._discard(key)
        task = self._starting.get(key)
        if task is None:
            task = asyncio.create_task(self._start(runtime))
            self._starting[key] = task
            task.add_done_callback(lambda _: self._starting.pop(key, None))
        return await asyncio.shield(task)

    async def stop_all(self) -> None:
        for task in list(self._starting.values()):
            task.cancel()
        await asyncio.gather(*(self._discard(key) for key in list(self._handles)))

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
        self._handles[runtime_key(runtime)] = handle
        log.info("runtime %s instance %s ready: capacity %d bytes, version %s", runtime.metadata.name,
                 instance_id, status.capacity_bytes, status.runtime_version)
        return handle

    async def _discard(self, key: str) -> None:
        handle = self._handles.pop(key, None)
        if handle is None:
            return
        with contextlib.suppress(Exception):
            await handle.data_channel.close()
            await handle.adapter.close()
        await handle.instance.stop()
