"""Prometheus metrics with ModelMesh's names, buckets and labels (reference §7), on a registry per emulator."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["OTHER_METHODS", "InstanceGauges", "Metrics", "ModelCounts"]

_MS_BUCKETS = (0.5, 1, 2, 5, 10, 20, 50, 75, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000, 120000, 300000)
_SIZE_BUCKETS = tuple(128 * 4**i for i in range(8))
_MODEL_SIZE_BUCKETS = tuple(256 * 1024 * 4**i for i in range(8))
_AGE_BUCKETS = tuple(s * 1000 for s in (30, 300, 900, 3600, 14400, 43200, 86400, 604800, 2592000, 7776000))
_REQUEST_LABELS = ("method", "code")
# The `method` label of every method that is neither configured (ModelInfer, …) nor declared by the runtime that
# served it: clients choose method names, so each would otherwise add label sets without bound. Emulator's own.
OTHER_METHODS = "other"


@dataclass(frozen=True)
class ModelCounts:
    loaded: int
    with_failure: int
    managed: int


@dataclass(frozen=True)
class InstanceGauges:
    pod: str
    capacity_bytes: int
    used_bytes: int
    models: int
    lru_time_s: float | None


class _StateCollector(Collector):
    def __init__(self, models: Callable[[], ModelCounts], instances: Callable[[], Iterable[InstanceGauges]]):
        self._models = models
        self._instances = instances

    def collect(self) -> Iterator[Metric]:
        counts = self._models()
        for name, value, text in (
            ("modelmesh_models_loaded_total", counts.loaded, "Models with at least one loaded copy"),
            ("modelmesh_models_with_failure_total", counts.with_failure, "Models whose last load failed"),
            ("modelmesh_models_managed_total", counts.managed, "Models registered"),
        ):
            yield GaugeMetricFamily(name, text, value=value)
        families = {
            "capacity": GaugeMetricFamily("modelmesh_instance_capacity_bytes", "Effective model capacity",
                                          labels=["pod"]),
            "used": GaugeMetricFamily("modelmesh_instance_used_bytes", "Bytes used by models", labels=["pod"]),
            "bps": GaugeMetricFamily("modelmesh_instance_used_bps", "Capacity used, basis points", labels=["pod"]),
            "models": GaugeMetricFamily("modelmesh_instance_models_total", "Model copies loaded", labels=["pod"]),
            "lru": GaugeMetricFamily("modelmesh_instance_lru_seconds", "Last use of the LRU model, epoch s",
                                     labels=["pod"]),
            "lru_age": GaugeMetricFamily("modelmesh_instance_lru_age_seconds", "Age of the LRU model",
                                         labels=["pod"]),
        }
        now = time.time()
        for gauges in self._instances():
            pod = [gauges.pod]
            families["capacity"].add_metric(pod, gauges.capacity_bytes)
            families["used"].add_metric(pod, gauges.used_bytes)
            families["bps"].add_metric(pod, gauges.used_bytes * 10000 // max(gauges.capacity_bytes, 1))
            families["models"].add_metric(pod, gauges.models)
            if gauges.lru_time_s is not None:
                families["lru"].add_metric(pod, gauges.lru_time_s)
                families["lru_age"].add_metric(pod, now - gauges.lru_time_s)
        yield from families.values()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry

        def histogram(name: str, text: str, buckets: tuple[float, ...], labels: tuple[str, ...] = ()) -> Histogram:
            return Histogram(name, text, labels, buckets=buckets, registry=r)

        self.api_request = histogram("modelmesh_api_request_milliseconds", "External API request time",
                                     _MS_BUCKETS, _REQUEST_LABELS)
        self.invoke_model = histogram("modelmesh_invoke_model_milliseconds", "Time of the call to the runtime",
                                      _MS_BUCKETS, _REQUEST_LABELS)
        self.request_size = histogram("modelmesh_request_size_bytes", "Request payload size", _SIZE_BUCKETS,
                                      _REQUEST_LABELS)
        self.response_size = histogram("modelmesh_response_size_bytes", "Response payload size", _SIZE_BUCKETS,
                                       _REQUEST_LABELS)
        self.cache_miss = histogram("modelmesh_cache_miss_milliseconds", "Request delay waiting for a load",
                                    _MS_BUCKETS)
        self.load = histogram("modelmesh_loadmodel_milliseconds", "Model load time", _MS_BUCKETS)
        self.unload = histogram("modelmesh_unloadmodel_milliseconds", "Model unload time", _MS_BUCKETS)
        self.loading_queue_delay = histogram("modelmesh_loading_queue_delay_milliseconds",
                                             "Time a load waited for a loading slot", _MS_BUCKETS)
        self.age_at_eviction = histogram("modelmesh_age_at_eviction_milliseconds",
                                         "Time since last use when a model was evicted", _AGE_BUCKETS)
        self.loaded_model_size = histogram("modelmesh_loaded_model_size_bytes", "Size of loaded models",
                                           _MODEL_SIZE_BUCKETS)
        self.load_failures = Counter("modelmesh_loadmodel_failure", "Failed model loads", registry=r)
        self.unload_failures = Counter("modelmesh_unloadmodel_failure", "Failed model unloads", registry=r)

    def observe_state(self, models: Callable[[], ModelCounts],
                      instances: Callable[[], Iterable[InstanceGauges]]) -> None:
        self.registry.register(_StateCollector(models, instances))

    def observe_request(self, method: str | None, code: str, millis: float, request_bytes: int,
                        response_bytes: int, invoke_millis: float | None) -> None:
        """One external request; `method` None counts it under OTHER_METHODS."""
        short = OTHER_METHODS if method is None else method.rpartition("/")[2]
        self.api_request.labels(short, code).observe(millis)
        self.request_size.labels(short, code).observe(request_bytes)
        if code == "OK":
            self.response_size.labels(short, code).observe(response_bytes)
        if invoke_millis is not None:
            self.invoke_model.labels(short, code).observe(invoke_millis)

    def serve(self, host: str, port: int) -> Callable[[], None]:
        """Serve `/metrics` on a background thread; returns a function that stops it."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop
