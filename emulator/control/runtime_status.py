"""`status` of a ServingRuntime / ClusterServingRuntime: its instances, the models they hold and the capacity used.

The emulator's addition (upstream's runtimes have no status; users asked for one): instances are the runtime's
running Pods (emulator/control/pods.py names them), capacity is `requests.memory - memBufferBytes` per instance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..placement.runtime_pool import runtime_key
from ..spec import ServingRuntime
from .pods import pod_name

if TYPE_CHECKING:
    from .context import ApiContext

__all__ = ["runtime_status"]


def runtime_status(context: ApiContext, runtime: ServingRuntime) -> dict[str, Any]:
    key = runtime_key(runtime)
    handles = [h for h in context.pool.handles() if runtime_key(h.runtime) == key]
    instances = []
    for handle in handles:
        cache = handle.cache
        instances.append({"pod": pod_name(handle), "instance": handle.location,
                          "ready": handle.instance.is_running(), "restarts": handle.restarts,
                          "modelsLoaded": len(cache), "usedBytes": cache.used_bytes,
                          "capacityBytes": cache.capacity_bytes})
    models = {entry.model_id for handle in handles for entry in handle.cache.entries()}
    return {"replicas": context.pool.replicas(runtime),
            "readyInstances": sum(1 for instance in instances if instance["ready"]),
            "modelsLoaded": len(models),
            "capacity": {"usedBytes": sum(i["usedBytes"] for i in instances),
                         "totalBytes": sum(i["capacityBytes"] for i in instances)},
            "instances": instances}
