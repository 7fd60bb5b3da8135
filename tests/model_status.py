"""Read an InferenceService's ModelMesh status from a running EmulatorThread."""

from __future__ import annotations

import time
from typing import Any

from emulator.status import inference_service_status
from emulator.testing import EmulatorThread

__all__ = ["isvc_status", "wait_until_settled"]

_SETTLED = {"Loaded", "FailedToLoad", "Standby"}


def isvc_status(emu: EmulatorThread, name: str) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        vmodel = emu.emulator.placement.vmodel(name, emu.emulator.settings.namespace)
        assert vmodel is not None, f"no vmodel {name}"
        return inference_service_status(vmodel, grpc_url="grpc://test", rest_url=None)

    return emu.call(read)


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
