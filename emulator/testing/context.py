"""Start an emulator with manifests applied, as a context manager: `serve` (sync) and `serve_async`.

    from emulator.testing import serve

    with serve("runtimes/", "sample_models/", free_ports=True) as emu:
        emu.wait_for_state("example-sklearn-mnist-svm")
        print(emu.infer("example-sklearn-mnist-svm", {"predict": pixels})["predict"])
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from ..app import Emulator
from ..launchers.ports import free_port
from ..settings import Settings
from .errors import check_applied
from .runner import EmulatorThread

__all__ = ["free_port_settings", "serve", "serve_async"]


def free_port_settings() -> dict[str, int]:
    """Settings overrides giving every listener a free port: 0 where the emulator reports the port it bound
    (gRPC, REST), a port free right now for the others (metrics, …)."""
    ports = {"grpc_port": 0, "rest_port": 0}
    for name in Settings.model_fields:
        if name.endswith("_port") and name not in ports:
            ports[name] = free_port()
    return ports


def _settings(settings: Settings | None, use_free_ports: bool, overrides: dict[str, Any]) -> Settings:
    overrides = {**free_port_settings(), **overrides} if use_free_ports else overrides
    if settings is None:
        return Settings(**overrides)
    return settings.model_copy(update=overrides) if overrides else settings


@contextmanager
def serve(*manifests: str | Path, settings: Settings | None = None, free_ports: bool = False,
          **overrides: Any) -> Iterator[EmulatorThread]:
    """A running EmulatorThread with `manifests` (files or directories) applied; stopped on exit.

    Settings come from `settings`, else MMEMU_* environment variables and defaults (gRPC 8033, REST 8008);
    `free_ports=True` puts every listener on a free port instead; keyword arguments override single fields.
    Raises ManifestError (and stops again) when a manifest is refused.
    """
    with EmulatorThread(_settings(settings, free_ports, overrides)) as emu:
        emu.apply(*manifests)
        yield emu


@asynccontextmanager
async def serve_async(*manifests: str | Path, settings: Settings | None = None, free_ports: bool = False,
                      **overrides: Any) -> AsyncIterator[Emulator]:
    """`serve` for asyncio code: the Emulator runs on the caller's event loop.

    Use `emulator.testing.V2Client` for requests from another thread, or grpc.aio/httpx.AsyncClient
    on the same loop; `wait_for_state_async` waits for a model.
    """
    async with Emulator(_settings(settings, free_ports, overrides)) as emulator:
        check_applied(emulator.apply_paths([Path(m) for m in manifests]))
        yield emulator
