"""InferenceService / Predictor status in ModelMesh's vocabulary (§2.6 of the reference)."""

from __future__ import annotations

from typing import Any

from .model_state import ConcreteModel, ModelState, TransitionStatus
from .placement import VModel

__all__ = ["inference_service_status", "transition_status"]

_READY_STATES = (ModelState.LOADED, ModelState.STANDBY)


def transition_status(vmodel: VModel) -> TransitionStatus:
    if vmodel.model.spec_error is not None:
        return TransitionStatus.INVALID_SPEC
    target = vmodel.target
    if target is None:
        return TransitionStatus.UP_TO_DATE
    if target.state is ModelState.FAILED_TO_LOAD:
        return TransitionStatus.BLOCKED_BY_FAILED_LOAD
    return TransitionStatus.IN_PROGRESS


def _copies(*models: ConcreteModel | None) -> dict[str, int]:
    """Copies loading or loaded, plus one per failed load, of the active and target models."""
    present = [model for model in models if model is not None]
    failed = sum(model.state is ModelState.FAILED_TO_LOAD for model in present)
    return {"failedCopies": failed, "totalCopies": failed + sum(len(model.copies) for model in present)}


def inference_service_status(vmodel: VModel, *, grpc_url: str, rest_url: str | None) -> dict[str, Any]:
    active, target = vmodel.active, vmodel.target
    failure = (target.failure if target is not None and target.failure else None) or active.failure
    ready = active.state in _READY_STATES
    model_status: dict[str, Any] = {
        "transitionStatus": str(transition_status(vmodel)),
        "states": {"activeModelState": str(active.state),
                   "targetModelState": str(target.state) if target is not None else ""},
        "copies": _copies(active, target),
    }
    if failure is not None:
        model_status["lastFailureInfo"] = failure.to_status()
    condition = {"type": "PredictorReady", "status": "True" if ready else "False"}
    status: dict[str, Any] = {
        "components": {"predictor": {"grpcUrl": grpc_url, "restUrl": rest_url or "", "url": grpc_url}},
        "conditions": [condition, {**condition, "type": "Ready"}],
        "modelStatus": model_status,
    }
    if ready:
        status["url"] = grpc_url
    return status
