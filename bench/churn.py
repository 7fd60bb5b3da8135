"""Cache churn: 100 models on one runtime instance with room for 20, a Zipf(1.1) request mix at a fixed rate.

Every model is the same sklearn SVM file under its own InferenceService (own concrete id, own copy of the files),
so each weighs the same: the ServingRuntime's memory request is set so that the instance's effective capacity
(ModelMesh's accounting: 8 KiB units, minus the unload reserve) holds exactly 20 of them, and the adapter's
DEFAULT_MODELSIZE is the model's real size, so the 1 MB placeholder weight of a loading model does not skew the
count. Nothing loads on apply (`--lazy`); the churn guard is off (MMEMU_MIN_CHURN_AGE_S=0), as its 300 s default
would reject most loads of a deliberately undersized cache.

Requests are sent open-loop at `--rate` per second in the order of a seeded Zipf sequence. A request that found
its model loaded is a hit; a miss causes exactly one load, so hit ratio = 1 - loads / requests, with loads read
from the emulator's `modelmesh_loadmodel_milliseconds_count`. The same sequence is replayed on an exact LRU cache
of 20 (bench/lru_sim.py). While the load runs, `modelmesh_instance_used_bytes` (the accounting) and MLServer's
own repository index (what is really resident) are sampled and must never exceed the capacity.

Needs the LRU cache (issue 5): when the emulator exposes no `modelmesh_instance_capacity_bytes`, the script
says so and exits without measuring.

    .venv/bin/python bench/churn.py [--quick] [--models 100] [--capacity 20] [--requests 1000] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
from _clients import GrpcCaller, run_async
from _harness import (
    SVM,
    EmulatorProcess,
    RuntimeEndpoints,
    add_common_args,
    grpc_request,
    isvc_yaml,
    sample_bucket,
    work_dir,
)
from _stats import machine_line, percentile, table
from lru_sim import simulate_lru, zipf_sequence
from mlserver.grpc import dataplane_pb2 as pb

from emulator.adapters.base import MODEL_SIZE_MULTIPLIER

__all__ = ["main", "runtime_yaml"]

MODEL_INFER = "inference.GRPCInferenceService/ModelInfer"
MODEL_PATH = "sklearn/mnist-svm.joblib"
RUNTIME = "churn-mlserver"
MEM_BUFFER_BYTES = 134217728
UNIT = 8192


def _units(size: int) -> int:
    return max(1, math.ceil(size / UNIT))


def capacity_bytes_for(models: int, model_size: int) -> int:
    """Runtime capacity (memory request - memBufferBytes) whose effective part holds `models` models, plus half.

    Effective capacity follows ModelMesh (reference §6.1): total units minus the unload reserve
    max(min(threads x default units / 2, total / 10), total / 100), with one loading thread and the default size
    equal to the model's size.
    """
    weight = _units(model_size)
    want = models * weight + weight // 2
    total = want
    while total - max(min(weight // 2, total // 10), total // 100) < want:
        total += 1
    return total * UNIT


def runtime_yaml(capacity: int, model_size: int) -> str:
    """The built-in MLServer ServingRuntime (runtimes/mlserver-1.x.yaml) with a small memory request."""
    return f"""apiVersion: serving.kserve.io/v1alpha1
kind: ClusterServingRuntime
metadata:
  name: {RUNTIME}
spec:
  supportedModelFormats:
    - name: sklearn
      version: "0"
      autoSelect: true
  protocolVersions:
    - grpc-v2
  multiModel: true
  grpcEndpoint: "port:8085"
  grpcDataEndpoint: "port:8001"
  containers:
    - name: mlserver
      image: seldonio/mlserver:1.3.2
      env:
        - name: MLSERVER_MODELS_DIR
          value: "/models/_mlserver_models/"
        - name: MLSERVER_GRPC_PORT
          value: "8001"
        - name: MLSERVER_HTTP_PORT
          value: "8002"
        - name: MLSERVER_LOAD_MODELS_AT_STARTUP
          value: "false"
        - name: MLSERVER_MODEL_NAME
          value: dummy-model-fixme
        - name: MLSERVER_HOST
          value: "127.0.0.1"
        - name: MLSERVER_GRPC_MAX_MESSAGE_LENGTH
          value: "-1"
      resources:
        requests:
          cpu: 500m
          memory: "{capacity + MEM_BUFFER_BYTES}"
        limits:
          cpu: "5"
          memory: "{capacity + MEM_BUFFER_BYTES}"
  builtInAdapter:
    serverType: mlserver
    runtimeManagementPort: 8001
    memBufferBytes: {MEM_BUFFER_BYTES}
    modelLoadingTimeoutMillis: 90000
    env:
      - name: DEFAULT_MODELSIZE
        value: "{model_size}"
"""


def _scrape(port: int) -> dict[str, float]:
    values: dict[str, float] = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        for line in reply.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name.split("{", 1)[0]] = values.get(name.split("{", 1)[0], 0.0) + float(value)
    return values


class _Monitor:
    """Samples the accounting (/metrics) and what MLServer really holds (RepositoryIndex) until stopped."""

    def __init__(self, emu: EmulatorProcess, runtime: RuntimeEndpoints, model_weight_bytes: int):
        self._emu, self._runtime, self._weight = emu, runtime, model_weight_bytes
        self.max_used_bytes = 0.0
        self.capacity_bytes = 0.0
        self.max_resident = 0
        self.samples = 0
        self._stop = asyncio.Event()

    async def run(self, interval: float = 0.1) -> None:
        channel = grpc.aio.insecure_channel(self._runtime.grpc)
        index = channel.unary_unary("/inference.GRPCInferenceService/RepositoryIndex",
                                    request_serializer=pb.RepositoryIndexRequest.SerializeToString,
                                    response_deserializer=pb.RepositoryIndexResponse.FromString)
        try:
            while not self._stop.is_set():
                metrics = await asyncio.to_thread(_scrape, self._emu.metrics_port)
                self.capacity_bytes = metrics.get("modelmesh_instance_capacity_bytes", 0.0)
                self.max_used_bytes = max(self.max_used_bytes, metrics.get("modelmesh_instance_used_bytes", 0.0))
                reply = await index(pb.RepositoryIndexRequest(ready=True), timeout=10)
                # MLServer 1.7 reports `State.READY`, older versions `READY`
                ready = sum(1 for model in reply.models if model.state.rpartition(".")[2] == "READY")
                self.max_resident = max(self.max_resident, ready)
                self.samples += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), interval)
        finally:
            await channel.close()

    def stop(self) -> None:
        self._stop.set()


async def _drive(emu: EmulatorProcess, names: list[str], sequence: list[int], rate: float,
                 max_seconds: float) -> tuple[list[float], list[str], float]:
    callers = {i: GrpcCaller(f"127.0.0.1:{emu.grpc_port}", MODEL_INFER, grpc_request(SVM, name), timeout=120)
               for i, name in enumerate(names)}
    latencies: list[float] = []
    errors: list[str] = []

    async def one(index: int) -> None:
        start = time.perf_counter()
        try:
            await callers[index]()
            latencies.append(time.perf_counter() - start)
        except grpc.aio.AioRpcError as exc:
            errors.append(f"{exc.code().name}: {exc.details()}")

    tasks = []
    start = time.perf_counter()
    for position, index in enumerate(sequence):
        delay = start + position / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.perf_counter() - start > max_seconds:
            break
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for caller in callers.values():
        await caller.close()
    return latencies, errors, elapsed


async def _bench(emu: EmulatorProcess, names: list[str], sequence: list[int], weight_bytes: int,
                 args: argparse.Namespace) -> dict[str, Any] | None:
    try:
        metrics = await asyncio.to_thread(_scrape, emu.metrics_port)
    except (urllib.error.URLError, OSError):
        metrics = {}
    # a first request starts the runtime instance; it is not part of the measured sequence
    warm = GrpcCaller(f"127.0.0.1:{emu.grpc_port}", MODEL_INFER, grpc_request(SVM, names[0]), timeout=180)
    await warm()
    await warm.close()
    metrics = await asyncio.to_thread(_scrape, emu.metrics_port)
    if "modelmesh_instance_capacity_bytes" not in metrics:
        return None
    monitor = _Monitor(emu, emu.runtime(RUNTIME), weight_bytes)
    watching = asyncio.create_task(monitor.run())
    loads_before = metrics.get("modelmesh_loadmodel_milliseconds_count", 0.0)
    latencies, errors, elapsed = await _drive(emu, names, sequence, args.rate, args.max_seconds)
    await asyncio.sleep(0.3)
    monitor.stop()
    await watching
    after = await asyncio.to_thread(_scrape, emu.metrics_port)
    sent = len(latencies) + len(errors)
    # the warm-up request left names[0] loaded; the simulation starts from the same state
    sim = simulate_lru([0, *sequence[:sent]], args.capacity)
    loads = after.get("modelmesh_loadmodel_milliseconds_count", 0.0) - loads_before
    return {
        "requests": sent, "errors": len(errors), "first_error": errors[0] if errors else None,
        "elapsed_s": elapsed, "achieved_rate": sent / elapsed if elapsed else 0.0,
        "loads": loads, "hit_ratio": 1 - loads / sent if sent else math.nan,
        "sim_hit_ratio": sim.hits / sent if sent else math.nan,
        "sim_loads": sim.misses - 1,  # minus the warm-up request's miss
        "capacity_bytes": monitor.capacity_bytes, "max_used_bytes": monitor.max_used_bytes,
        "max_resident_models": monitor.max_resident, "capacity_models": args.capacity,
        "monitor_samples": monitor.samples,
        "p50_ms": percentile([s * 1000 for s in latencies], 50),
        "p99_ms": percentile([s * 1000 for s in latencies], 99),
    }


def _report(result: dict[str, Any], args: argparse.Namespace) -> str:
    diff_points = (result["hit_ratio"] - result["sim_hit_ratio"]) * 100
    rows = [[f"{result['requests']}", result["achieved_rate"], result["hit_ratio"] * 100,
             result["sim_hit_ratio"] * 100, diff_points, f"{int(result['loads'])}", f"{result['sim_loads']}",
             f"{result['max_resident_models']} / {result['capacity_models']}",
             f"{result['max_used_bytes'] / 2**20:.2f} / {result['capacity_bytes'] / 2**20:.2f}",
             f"{result['errors']}", result["p50_ms"], result["p99_ms"]]]
    text = table(["requests", "req/s", "hit % emulator", "hit % exact LRU", "diff points", "loads",
                  "loads LRU", "max resident (MLServer) / capacity", "max used MiB / capacity MiB", "errors",
                  "p50 ms", "p99 ms"], rows)
    if result["first_error"]:
        text += f"\n\nfirst error: {result['first_error']}"
    return text


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--capacity", type=int, default=20, help="models the instance can hold")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second (open loop)")
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.capacity, args.requests, args.rate = 8, 3, 24, 12.0
    title = (f"## Cache churn ({args.models} models, capacity {args.capacity}, Zipf({args.zipf:g}), "
             f"{args.rate:g} req/s open loop, seed {args.seed})\n")
    with work_dir(args.keep) as work:
        s3 = sample_bucket(work)
        disk = (s3 / "modelmesh-example-models" / MODEL_PATH).stat().st_size
        model_size = int(disk * MODEL_SIZE_MULTIPLIER)
        capacity = capacity_bytes_for(args.capacity, model_size)
        names = [f"churn-{i:03d}" for i in range(args.models)]
        (work / "runtime.yaml").write_text(runtime_yaml(capacity, model_size))
        (work / "isvcs.yaml").write_text(isvc_yaml(names, path=MODEL_PATH))
        sequence = zipf_sequence(args.models, args.zipf, args.requests, args.seed)
        with EmulatorProcess([work / "runtime.yaml", work / "isvcs.yaml"], work, s3, lazy=True,
                             env={"MMEMU_MIN_CHURN_AGE_S": "0"}) as emu:
            emu.start()
            result = run_async(_bench(emu, names, sequence, _units(model_size) * UNIT, args))
    print(title)
    if result is None:
        print("SKIPPED: this emulator has no model cache yet (no modelmesh_instance_capacity_bytes on /metrics; "
              "issue 5, the LRU cache). Nothing was measured.\n")
        return None
    print(f"Machine: {machine_line()}\n")
    print(_report(result, args))
    print()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
