"""Read-only views of the running emulator: object status, where models are loaded, runtime instances.

Everything here reads placement, pool and registry state and returns plain JSON-able dicts; call it on the
emulator's event loop.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..placement.model_state import ConcreteModel, ModelState
from ..placement.placement import VModel
from ..placement.runtime_pool import RuntimeHandle, runtime_key
from ..placement.status import inference_service_status
from ..spec import InferenceService, Manifest, Predictor, ServingRuntime
from .runtime_status import runtime_status

if TYPE_CHECKING:
    from .context import ApiContext

__all__ = ["model_placement", "object_status", "predictor_status", "runtime_instances", "vmodel_of"]


def vmodel_of(context: ApiContext, obj: Manifest) -> VModel | None:
    """The vmodel an InferenceService or Predictor defines, if this object (not one of the other kind) owns it."""
    namespace = obj.metadata.namespace or context.settings.namespace
    vmodel = context.placement.vmodel(obj.metadata.name, namespace)
    if vmodel is None or vmodel.model.kind != obj.kind:
        return None
    return vmodel


def _isvc_status(context: ApiContext, vmodel: VModel | None) -> dict[str, Any]:
    if vmodel is None:
        return {"modelStatus": {"transitionStatus": "UpToDate",
                                "states": {"activeModelState": str(ModelState.PENDING), "targetModelState": ""},
                                "copies": {"failedCopies": 0, "totalCopies": 0}}}
    return inference_service_status(vmodel, grpc_url=context.grpc_url, rest_url=context.rest_url)


def predictor_status(isvc_status: dict[str, Any], *, grpc_url: str, rest_url: str | None) -> dict[str, Any]:
    """The v1alpha1 Predictor's flat status (§2.6) from the same model state as the InferenceService's."""
    model_status = isvc_status["modelStatus"]
    states = model_status["states"]
    failure = model_status.get("lastFailureInfo")
    active = states["activeModelState"]
    waiting_for_runtime = failure is not None and failure.get("reason") == "RuntimeUnhealthy"
    status: dict[str, Any] = {
        # upstream: ActiveModelState != "" && != FailedToLoad && !WaitingForRuntime()
        "available": bool(active) and active != ModelState.FAILED_TO_LOAD and not waiting_for_runtime,
        "transitionStatus": model_status["transitionStatus"],
        "activeModelState": active,
        "targetModelState": states["targetModelState"],
        "grpcEndpoint": grpc_url,
        "httpEndpoint": rest_url or "",
        "totalCopies": model_status["copies"]["totalCopies"],
        "failedCopies": model_status["copies"]["failedCopies"],
    }
    if failure is not None:
        info = {key: value for key, value in failure.items() if key != "modelRevisionName"}
        status["lastFailureInfo"] = info | {"modelId": failure.get("modelRevisionName", "")}
    return status


def object_status(context: ApiContext, obj: Manifest) -> dict[str, Any] | None:
    """The `status` the API returns with an object; None for kinds that have none (Secrets)."""
    if isinstance(obj, InferenceService):
        return _isvc_status(context, vmodel_of(context, obj))
    if isinstance(obj, Predictor):
        return predictor_status(_isvc_status(context, vmodel_of(context, obj)), grpc_url=context.grpc_url,
                                rest_url=context.rest_url)
    if isinstance(obj, ServingRuntime):
        return runtime_status(context, obj)
    return None


def _concrete(model: ConcreteModel | None) -> dict[str, Any] | None:
    if model is None:
        return None
    copies = [
        {"instance": copy.location, "runtime": copy.handle.runtime.metadata.name,
         "state": str(ModelState.LOADED if copy.loaded else ModelState.LOADING), "sizeBytes": copy.size_bytes}
        for copy in model.copies.values()
    ]
    view: dict[str, Any] = {"modelId": model.model_id, "state": str(model.state), "sizeBytes": model.size_bytes,
                            "copies": copies}
    if model.failure is not None:
        view["lastFailureInfo"] = model.failure.to_status()
    return view


def model_placement(context: ApiContext, obj: Manifest) -> dict[str, Any]:
    """Where an InferenceService's or Predictor's models are: concrete ids, states, instances, sizes."""
    vmodel = vmodel_of(context, obj)
    registered = context.registry.model(obj.metadata.name, obj.metadata.namespace, obj.kind)
    view: dict[str, Any] = {
        "kind": obj.kind, "name": obj.metadata.name, "namespace": obj.metadata.namespace,
        "modelType": registered.type_string if registered is not None else None,
        "specError": registered.spec_error if registered is not None else None,
        "active": None, "target": None,
    }
    if vmodel is not None:
        view["active"], view["target"] = _concrete(vmodel.active), _concrete(vmodel.target)
        for key, model in (("active", vmodel.active), ("target", vmodel.target)):
            retry = context.placement.next_load_retry(model) if model is not None else None
            if retry is not None:
                view[key]["nextRetry"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(retry))
    return view


def _instance(handle: RuntimeHandle) -> dict[str, Any]:
    cache = handle.cache
    return {
        "instance": handle.location,
        "running": handle.instance.is_running(),
        "uptimeSeconds": max(0, int(time.time() - handle.started_at)),
        "capacityBytes": cache.capacity_bytes,
        "usedBytes": cache.used_bytes,
        "models": [entry.model_id for entry in cache.entries()],
        "dataEndpoint": handle.instance.ports.data,
        # the emulator's own: model id -> what the stand-in serving it replaces (docs/runtimes.md)
        "standIns": dict(getattr(handle.adapter, "stand_ins", {})),
    }


def runtime_instances(context: ApiContext) -> list[dict[str, Any]]:
    """Every applied runtime (namespaced and cluster) with its running instances."""
    handles: dict[str, list[RuntimeHandle]] = {}
    for handle in context.pool.handles():
        handles.setdefault(runtime_key(handle.runtime), []).append(handle)
    runtimes = [obj for kind in ("ClusterServingRuntime", "ServingRuntime") for obj in context.registry.list(kind)]
    views = []
    for runtime in runtimes:
        assert isinstance(runtime, ServingRuntime)
        views.append({
            "kind": runtime.kind, "name": runtime.metadata.name, "namespace": runtime.metadata.namespace,
            "disabled": bool(runtime.spec.disabled), "multiModel": bool(runtime.spec.multi_model),
            "instances": [_instance(handle) for handle in handles.get(runtime_key(runtime), [])],
        })
    return views
