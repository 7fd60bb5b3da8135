"""Cold start: the first request of a model that is not loaded, split into its steps; and a thundering herd.

The emulator runs lazily (`--lazy`: nothing loads on apply) under bench/_instrumented_serve.py, which records
when each step starts and ends. For one request:

* runtime start - RuntimePool.acquire (only when no instance of the runtime is running yet);
* pull          - Puller.pull, storage → `<models>/<model id>/`;
* load          - MLServerAdapter.load_model (model-settings.json + MLServer's RepositoryModelLoad);
* first infer   - from the model being servable to the reply leaving the data plane (runtime's first inference);
* emulator      - everything else the client waited for: gRPC in/out, routing, placement and cache bookkeeping,
                  task hand-offs (client-observed total - the steps above).

Then `--herd` (50) concurrent first requests for one unloaded model: all must succeed with exactly one load,
counted three ways: the wrapped adapter calls, MLServer's log lines `…/RepositoryModelLoad`, and the
emulator's `modelmesh_loadmodel_milliseconds_count`.

    .venv/bin/python bench/cold_start.py [--quick] [--models 10] [--herd 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from _clients import GrpcCaller, run_async
from _harness import (
    ROOT,
    SVM,
    EmulatorProcess,
    add_common_args,
    grpc_request,
    isvc_yaml,
    sample_bucket,
    work_dir,
)
from _stats import machine_line, median, table
from mlserver.grpc import dataplane_pb2 as pb

__all__ = ["main"]

MODEL_INFER = "inference.GRPCInferenceService/ModelInfer"
LOAD_LOG_LINE = "/inference.GRPCInferenceService/RepositoryModelLoad"


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _span(events: list[dict[str, Any]], event: str, key: str, after: float) -> tuple[float, float] | None:
    found = [e for e in events if e["event"] == event and e["key"] == key and e["start"] >= after]
    return (found[0]["start"], found[0]["end"]) if found else None


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _first_request(emu: EmulatorProcess, name: str, timings: Path) -> dict[str, float]:
    caller = GrpcCaller(f"127.0.0.1:{emu.grpc_port}", MODEL_INFER, grpc_request(SVM, name), timeout=180)
    try:
        sent = time.perf_counter()
        reply = pb.ModelInferResponse.FromString(await caller())
        total = time.perf_counter() - sent
        warm_start = time.perf_counter()
        await caller()
        warm = time.perf_counter() - warm_start
    finally:
        await caller.close()
    model_id = reply.model_name
    await asyncio.sleep(0.05)  # the wrapped call records its end just after the reply is sent
    events = _events(timings)
    call = _span(events, "call", name, sent)
    route = _span(events, "route", name, sent)
    acquire = _span(events, "acquire", "mlserver-1.x", sent)
    pull = _span(events, "pull", model_id, sent)
    load = _span(events, "load", model_id, sent)
    if not (call and route and pull and load):
        raise AssertionError(f"missing timing events for {name}: call={call} route={route} pull={pull} load={load}")
    runtime_start = acquire[1] - acquire[0] if acquire and acquire[1] - acquire[0] > 0.05 else 0.0
    first_infer = call[1] - route[1]
    steps = runtime_start + (pull[1] - pull[0]) + (load[1] - load[0]) + first_infer
    return {"total_ms": total * 1000, "runtime_start_ms": runtime_start * 1000,
            "pull_ms": (pull[1] - pull[0]) * 1000, "load_ms": (load[1] - load[0]) * 1000,
            "first_infer_ms": first_infer * 1000, "emulator_ms": (total - steps) * 1000,
            "warm_ms": warm * 1000}


async def _herd(emu: EmulatorProcess, name: str, count: int, timings: Path) -> dict[str, Any]:
    runtime = emu.runtime("mlserver-1.x")
    log_before = runtime.log_count(LOAD_LOG_LINE)
    metric_before = _metric(emu.metrics_port, "modelmesh_loadmodel_milliseconds_count")
    caller = GrpcCaller(f"127.0.0.1:{emu.grpc_port}", MODEL_INFER, grpc_request(SVM, name), timeout=180)
    sent = time.perf_counter()
    try:
        results = await asyncio.gather(*(caller() for _ in range(count)), return_exceptions=True)
    finally:
        await caller.close()
    elapsed = time.perf_counter() - sent
    errors = [r for r in results if isinstance(r, BaseException)]
    model_ids = {pb.ModelInferResponse.FromString(r).model_name for r in results if isinstance(r, bytes)}
    await asyncio.sleep(0.2)
    adapter_loads = sum(1 for e in _events(timings) if e["event"] == "load" and e["key"] in model_ids
                        and e["start"] >= sent)
    return {"requests": count, "ok": count - len(errors), "errors": len(errors),
            "first_error": repr(errors[0]) if errors else None, "elapsed_ms": elapsed * 1000,
            "adapter_loads": adapter_loads, "runtime_log_loads": runtime.log_count(LOAD_LOG_LINE) - log_before,
            "metric_loads": _metric(emu.metrics_port, "modelmesh_loadmodel_milliseconds_count") - metric_before}


def _report(cold_runtime: dict[str, float], firsts: list[dict[str, float]], herd: dict[str, Any]) -> str:
    keys = ["total_ms", "runtime_start_ms", "pull_ms", "load_ms", "first_infer_ms", "emulator_ms", "warm_ms"]
    rows: list[list[object]] = [["runtime not running (1 request)", *(cold_runtime[k] for k in keys)]]
    medians = {k: median([f[k] for f in firsts]) for k in keys}
    rows.append([f"runtime running (median of {len(firsts)} models)", *(medians[k] for k in keys)])
    above = median([f["total_ms"] - f["pull_ms"] - f["load_ms"] for f in firsts])
    lines = [table(["first request", "total ms", "runtime start ms", "pull ms", "load ms", "first infer ms",
                    "emulator ms", "next request ms"], rows), "",
             f"Cold start above pull + load (runtime running, median): {above:.1f} ms "
             f"(of which the runtime's first inference {medians['first_infer_ms']:.1f} ms, "
             f"the emulator's own share {medians['emulator_ms']:.1f} ms).", "",
             table(["concurrent first requests", "ok", "errors", "loads (adapter calls)",
                    "loads (MLServer log)", "loads (modelmesh_loadmodel)", "all answered after ms"],
                   [[f"{herd['requests']}", f"{herd['ok']}", f"{herd['errors']}", f"{herd['adapter_loads']}",
                     f"{herd['runtime_log_loads']}", f"{int(herd['metric_loads'])}", herd["elapsed_ms"]]])]
    if herd["first_error"]:
        lines.append(f"\nfirst error: {herd['first_error']}")
    return "\n".join(lines)


async def _bench(emu: EmulatorProcess, names: list[str], herd_name: str, herd: int,
                 timings: Path) -> tuple[dict[str, float], list[dict[str, float]], dict[str, Any]]:
    cold_runtime = await _first_request(emu, names[0], timings)
    firsts = []
    for name in names[1:]:
        firsts.append(await _first_request(emu, name, timings))
        print(f"  {name}: {firsts[-1]['total_ms']:.0f} ms", file=sys.stderr, flush=True)
    return cold_runtime, firsts, await _herd(emu, herd_name, herd, timings)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--models", type=int, default=10, help="models whose first request is timed")
    parser.add_argument("--herd", type=int, default=50, help="concurrent first requests for one model")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.herd = 2, 8
    with work_dir(args.keep) as work:
        s3 = sample_bucket(work)
        names = [f"cold-{i}" for i in range(args.models + 1)]
        herd_name = "herd-0"
        (work / "isvcs.yaml").write_text(isvc_yaml([*names, herd_name]))
        timings = work / "timings.jsonl"
        command = [sys.executable, str(ROOT / "bench" / "_instrumented_serve.py")]
        with EmulatorProcess([ROOT / "runtimes" / "mlserver-1.x.yaml", work / "isvcs.yaml"], work, s3, lazy=True,
                             command=command, env={"MMEMU_BENCH_TIMINGS": str(timings)}) as emu:
            emu.start()
            cold_runtime, firsts, herd = run_async(_bench(emu, names, herd_name, args.herd, timings))
    print(f"## Cold start (lazy emulator, sklearn SVM {SVM!r} model file, gRPC)\n")
    print(f"Machine: {machine_line()}\n")
    print(_report(cold_runtime, firsts, herd))
    print()
    results = {"runtime_not_running": cold_runtime, "runtime_running": firsts, "herd": herd}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
