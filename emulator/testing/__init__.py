"""Run an emulator from tests, scripts or notebooks.

* pytest: the `modelmesh_emulator` plugin (fixtures `emulator`, `emulator_grpc`, `emulator_rest`, …), loaded
  automatically once the package is installed; see docs/testing.md.
* scripts and notebooks: `with serve("manifests/") as emu:` (a background thread) or
  `async with serve_async("manifests/") as emulator:` (the caller's event loop).
* any V2 endpoint: `V2Client(grpc_address, rest_url).infer(name, {"input": array})`.

Names are imported on first use, so loading the pytest plugin costs nothing until a fixture runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import InferError, InferResult, V2Client
    from .context import serve, serve_async
    from .errors import ManifestError, ModelStateError
    from .runner import EmulatorThread
    from .state import wait_for_state_async
    from .storage import EmulatorStorage

__all__ = ["EmulatorStorage", "EmulatorThread", "InferError", "InferResult", "ManifestError", "ModelStateError",
           "V2Client", "serve", "serve_async", "wait_for_state_async"]

_MODULES = {
    "EmulatorStorage": "storage", "EmulatorThread": "runner", "InferError": "client", "InferResult": "client",
    "ManifestError": "errors", "ModelStateError": "errors", "V2Client": "client", "serve": "context",
    "serve_async": "context", "wait_for_state_async": "state",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
