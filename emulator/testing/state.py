"""An InferenceService's ModelMesh status, and waiting until its model reaches a state."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..placement.model_state import ModelState
from ..placement.status import inference_service_status
from .errors import ModelStateError

if TYPE_CHECKING:
    from ..app import Emulator

__all__ = ["reached", "read_status", "wait_for_state", "wait_for_state_async"]

Status = dict[str, Any]
_POLL_S = 0.05


def read_status(emulator: Emulator, name: str, namespace: str | None = None) -> Status:
    """The InferenceService/Predictor status as ModelMesh reports it; call on the emulator's loop thread."""
    namespace = namespace or emulator.settings.namespace
    vmodel = emulator.placement.vmodel(name, namespace)
    if vmodel is None:
        known = ", ".join(sorted(v.model.name for v in emulator.placement.vmodels())) or "none"
        raise ModelStateError(f"no InferenceService or Predictor {name!r} in namespace {namespace!r} "
                              f"(applied: {known})")
    host = emulator.settings.host
    rest_url = f"http://{host}:{emulator.rest_port}" if emulator.settings.rest_proxy_enabled else None
    return inference_service_status(vmodel, grpc_url=f"grpc://{host}:{emulator.grpc_port}", rest_url=rest_url)


def _describe(status: Status) -> str:
    model_status = status["modelStatus"]
    states = model_status["states"]
    text = (f"activeModelState={states['activeModelState']}, targetModelState={states['targetModelState'] or '-'}, "
            f"transitionStatus={model_status['transitionStatus']}")
    failure = model_status.get("lastFailureInfo")
    if failure:
        text += f"\nlastFailureInfo: {json.dumps(failure, indent=2)}"
    return text


def reached(name: str, status: Status, state: ModelState) -> bool:
    """True once the model is in `state` with no transition pending; raises when it failed to load instead."""
    __tracebackhide__ = True
    states = status["modelStatus"]["states"]
    active, target = states["activeModelState"], states["targetModelState"]
    if state is ModelState.FAILED_TO_LOAD:
        return ModelState.FAILED_TO_LOAD in (active, target)
    if ModelState.FAILED_TO_LOAD in (active, target):
        raise ModelStateError(f"InferenceService {name!r} failed to load (waiting for {state}): "
                              f"{_describe(status)}", status)
    return active == state and not target


def _target_state(state: str | ModelState) -> ModelState:
    try:
        return ModelState(state)
    except ValueError:
        raise ValueError(f"unknown model state {state!r} (one of {', '.join(s.value for s in ModelState)})") \
            from None


def _timed_out(name: str, state: ModelState, timeout: float, status: Status) -> ModelStateError:
    return ModelStateError(f"InferenceService {name!r} not {state} after {timeout:g} s: {_describe(status)}", status)


def wait_for_state(read: Callable[[], Status], name: str, state: str | ModelState = ModelState.LOADED,
                   timeout: float = 120.0) -> Status:
    """Poll `read()` until `reached`; returns the status, raises ModelStateError on failure or timeout."""
    __tracebackhide__ = True
    wanted = _target_state(state)
    deadline = time.monotonic() + timeout
    while True:
        status = read()
        if reached(name, status, wanted):
            return status
        if time.monotonic() >= deadline:
            raise _timed_out(name, wanted, timeout, status)
        time.sleep(_POLL_S)


async def wait_for_state_async(emulator: Emulator, name: str, state: str | ModelState = ModelState.LOADED, *,
                               namespace: str | None = None, timeout: float = 120.0) -> Status:
    """`wait_for_state` for code running on the emulator's own loop (`serve_async`, `async with Emulator`)."""
    __tracebackhide__ = True
    wanted = _target_state(state)
    deadline = time.monotonic() + timeout
    while True:
        status = read_status(emulator, name, namespace)
        if reached(name, status, wanted):
            return status
        if time.monotonic() >= deadline:
            raise _timed_out(name, wanted, timeout, status)
        await asyncio.sleep(_POLL_S)
