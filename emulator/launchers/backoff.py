"""Restart back-off for any launcher, as Kubernetes' CrashLoopBackOff: a runtime whose instances keep dying is
started again after a growing delay instead of at once, every time a request asks for it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..spec import ServingRuntime
from .base import Launcher, RuntimeInstance

__all__ = ["BackoffLauncher", "CrashRecord"]

log = logging.getLogger(__name__)


@dataclass
class CrashRecord:
    crashes: int = 0
    """Consecutive instances that died on their own (or failed to start)."""
    last_crash: float = 0.0


class BackoffLauncher:
    """Wraps a launcher. The first restart after a crash is immediate; the next ones wait `initial_s`, doubling
    up to `max_s`. An instance that ran for `reset_after_s` before dying starts the count again.

    A crash is an instance found dead when it is stopped, whenever it died; a start that raises is left to the
    runtime pool's own retry delay."""

    def __init__(self, inner: Launcher, *, initial_s: float = 2.0, max_s: float = 60.0,
                 reset_after_s: float = 120.0):
        self.inner = inner
        self.name = inner.name
        self._initial_s = initial_s
        self._max_s = max_s
        self._reset_after_s = reset_after_s
        self._records: dict[str, CrashRecord] = {}

    def delay_s(self, runtime_name: str) -> float:
        """How long the next start of this runtime waits."""
        record = self._records.get(runtime_name)
        if record is None or record.crashes < 2:
            return 0.0
        return min(self._max_s, self._initial_s * 2 ** (record.crashes - 2))

    async def start(self, runtime: ServingRuntime, instance_id: str, work_dir: Path) -> RuntimeInstance:
        name = runtime.metadata.name
        delay = self.delay_s(name)
        if delay > 0:
            log.warning("runtime %s crashed %d times in a row; starting it again in %.0fs", name,
                        self._records[name].crashes, delay)
            await asyncio.sleep(delay)
        return _Watched(await self.inner.start(runtime, instance_id, work_dir), self, name)

    def _crashed(self, runtime_name: str, started_at: float) -> None:
        record = self._records.setdefault(runtime_name, CrashRecord())
        now = time.monotonic()
        if now - started_at >= self._reset_after_s:
            record.crashes = 0
        record.crashes += 1
        record.last_crash = now

    def _stopped_cleanly(self, runtime_name: str) -> None:
        self._records.pop(runtime_name, None)


class _Watched:
    """The inner instance; `stop()` tells whether it had died on its own before being stopped."""

    def __init__(self, inner: RuntimeInstance, launcher: BackoffLauncher, runtime_name: str):
        self._inner = inner
        self._launcher = launcher
        self._runtime_name = runtime_name
        self._started_at = time.monotonic()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def is_running(self) -> bool:
        return self._inner.is_running()

    def log_tail(self, lines: int = 40) -> str:
        return self._inner.log_tail(lines)

    async def stop(self) -> None:
        if self._inner.is_running():
            self._launcher._stopped_cleanly(self._runtime_name)
        else:
            self._launcher._crashed(self._runtime_name, started_at=self._started_at)
        await self._inner.stop()
