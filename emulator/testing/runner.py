"""An emulator running on its own event loop in a background thread, driven from synchronous code."""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from ..app import Emulator
from ..placement.model_state import ModelState
from ..settings import Settings
from .client import InferResult, V2Client
from .errors import check_applied
from .state import read_status, wait_for_state

__all__ = ["EmulatorThread"]

T = TypeVar("T")


class EmulatorThread:
    """`with EmulatorThread(settings) as emu: emu.apply_paths([...]); ...` — stops everything on exit.

    Also stopped at interpreter exit if still running, so a notebook or script never leaves runtimes behind.
    """

    def __init__(self, settings: Settings | None = None, *, start_timeout_s: float = 60.0):
        self.emulator = Emulator(settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modelmesh-emulator", daemon=True)
        self._start_timeout_s = start_timeout_s
        self._client: V2Client | None = None

    @property
    def grpc_address(self) -> str:
        return f"{self.emulator.settings.host}:{self.emulator.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.emulator.settings.host}:{self.emulator.rest_port}"

    @property
    def client(self) -> V2Client:
        """A V2 client bound to this emulator's gRPC and REST ports (closed on stop)."""
        if self._client is None:
            self._client = V2Client(self.grpc_address, self.rest_url if self.emulator.settings.rest_proxy_enabled
                                    else None)
        return self._client

    def start(self) -> EmulatorThread:
        self._thread.start()
        try:
            self.run(self.emulator.start(), timeout=self._start_timeout_s)
        except BaseException:
            self._stop_loop()
            raise
        atexit.register(self.stop)
        return self

    def stop(self, timeout: float = 120.0) -> None:
        atexit.unregister(self.stop)
        if self._client is not None:
            self._client.close()
            self._client = None
        if not self._thread.is_alive():
            return
        try:
            self.run(self.emulator.stop(), timeout=timeout)
            self.run(self._loop.shutdown_default_executor(), timeout=10)
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
        """Apply files and directories as the CLI does: a refused file becomes an `error: …` line, the rest applies."""
        return self.call(self.emulator.apply_paths, paths)

    def apply(self, *paths: str | Path) -> list[str]:
        """Apply files and directories; raises ManifestError naming file, document and field if any is refused."""
        __tracebackhide__ = True
        return check_applied(self.apply_paths([Path(p) for p in paths]))

    def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        self.call(self.emulator.registry.delete, kind, name, namespace)

    def infer(self, model: str, inputs: dict[str, Any], **options: Any) -> InferResult:
        """ModelInfer over gRPC with NumPy/plain inputs; see `V2Client.infer`."""
        __tracebackhide__ = True
        return self.client.infer(model, inputs, **options)

    def infer_rest(self, model: str, inputs: dict[str, Any], **options: Any) -> InferResult:
        """The same over REST; see `V2Client.infer_rest`."""
        __tracebackhide__ = True
        return self.client.infer_rest(model, inputs, **options)

    def status(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The InferenceService's status as ModelMesh reports it (`modelStatus`, `conditions`, URLs)."""
        return self.call(read_status, self.emulator, name, namespace)

    def wait_for_state(self, name: str, state: str | ModelState = ModelState.LOADED, *,
                       namespace: str | None = None, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the model is in `state` (default Loaded) with no transition pending; returns its status.

        Raises ModelStateError with the model's lastFailureInfo when it fails to load, or on timeout.
        """
        __tracebackhide__ = True
        return wait_for_state(lambda: self.status(name, namespace), name, state, timeout)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
