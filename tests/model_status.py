"""Read an InferenceService's ModelMesh status from a running EmulatorThread, and wait for conditions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from emulator.placement.status import inference_service_status
from emulator.testing import EmulatorThread

__all__ = ["eventually", "isvc_status", "maybe_isvc_status", "wait_until_settled"]

_SETTLED = {"Loaded", "FailedToLoad", "Standby"}


def maybe_isvc_status(emu: EmulatorThread, name: str) -> dict[str, Any] | None:
    def read() -> dict[str, Any] | None:
        vmodel = emu.emulator.placement.vmodel(name, emu.emulator.settings.namespace)
        return inference_service_status(vmodel, grpc_url="grpc://test", rest_url=None) if vmodel else None

    return emu.call(read)


def isvc_status(emu: EmulatorThread, name: str) -> dict[str, Any]:
    status = maybe_isvc_status(emu, name)
    assert status is not None, f"no InferenceService {name}"
    return status


def wait_until_settled(emu: EmulatorThread, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = isvc_status(emu, name)
        states = status["modelStatus"]["states"]
        if states["activeModelState"] in _SETTLED and states["targetModelState"] in _SETTLED | {""}:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not settle: {status}")
        time.sleep(0.05)


def eventually(check: Callable[[], bool], timeout: float = 60) -> bool:
    """Whether `check()` becomes true within `timeout` seconds, polled every 0.2 s."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True
