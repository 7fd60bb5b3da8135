"""An emulator running on its own event loop in a background thread, driven from synchronous code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from ..app import Emulator
from ..settings import Settings

__all__ = ["EmulatorThread"]

T = TypeVar("T")


class EmulatorThread:
    """`with EmulatorThread(settings) as emu: emu.apply_paths([...]); ...` — stops everything on exit."""

    def __init__(self, settings: Settings | None = None, *, start_timeout_s: float = 60.0):
        self.emulator = Emulator(settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modelmesh-emulator", daemon=True)
        self._start_timeout_s = start_timeout_s

    @property
    def grpc_address(self) -> str:
        return f"{self.emulator.settings.host}:{self.emulator.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.emulator.settings.host}:{self.emulator.rest_port}"

    def start(self) -> EmulatorThread:
        self._thread.start()
        try:
            self.run(self.emulator.start(), timeout=self._start_timeout_s)
        except BaseException:
            self._stop_loop()
            raise
        return self

    def stop(self, timeout: float = 120.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.run(self.emulator.stop(), timeout=timeout)
        finally:
            self._stop_loop()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the emulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Call a plain function on the emulator's loop thread (the registry and placement live there)."""
        future: Future[T] = Future()

        def invoke() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(invoke)
        return future.result()

    def apply_text(self, text: str, source: str = "<string>") -> list[str]:
        return self.call(self.emulator.apply_text, text, source)

    def apply_paths(self, paths: list[Path]) -> list[str]:
        return self.call(self.emulator.apply_paths, paths)

    def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        self.call(self.emulator.registry.delete, kind, name, namespace)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
