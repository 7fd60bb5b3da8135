"""Router overhead: the emulator's gRPC (8033) and REST (8008) routes against the same MLServer instance direct.

Latency p50/p99 at concurrency 1 and throughput at concurrency 16, for five paths: gRPC through the emulator,
gRPC through a bare grpc.aio proxy (bench/_bare_proxy.py: what any Python gRPC hop costs), gRPC straight to
MLServer's gRPC port, REST through the emulator (JSON → proto → gRPC → proto → JSON, as the rest-proxy does) and
REST straight to MLServer's own V2 REST. Rounds alternate the order of emulator and direct; each figure is the
median over rounds. The client's own ceiling is measured against a stub server that answers canned replies.

    .venv/bin/python bench/router_overhead.py [--quick] [--rounds 5] [--requests 2000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _clients import GrpcCaller, HttpCaller, LoadResult, closed_loop, run_async, sequential
from _harness import (
    ROOT,
    SVM,
    EmulatorProcess,
    add_common_args,
    cpu_seconds,
    grpc_request,
    rest_body,
    sample_bucket,
    work_dir,
)
from _stats import machine_line, median, percentile, ratio, table
from mlserver.grpc import dataplane_pb2 as pb

from emulator.launchers.ports import free_port

__all__ = ["main"]

MODEL_INFER = "inference.GRPCInferenceService/ModelInfer"
EXPECTED_CLASS = 8


@dataclass
class Figures:
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    cpu_us_per_req: list[float] = field(default_factory=list)

    def add(self, latency: LoadResult, load: LoadResult, cpu_s: float | None) -> None:
        ms = [s * 1000 for s in latency.latencies_s]
        self.p50_ms.append(percentile(ms, 50))
        self.p99_ms.append(percentile(ms, 99))
        self.rps.append(load.throughput)
        self.errors += latency.errors + load.errors
        self.first_error = self.first_error or latency.first_error or load.first_error
        if cpu_s is not None and load.completed:
            self.cpu_us_per_req.append(cpu_s / load.completed * 1e6)

    def summary(self) -> dict[str, float]:
        return {"p50_ms": median(self.p50_ms), "p99_ms": median(self.p99_ms), "rps": median(self.rps),
                "cpu_us_per_req": median(self.cpu_us_per_req), "errors": self.errors}


def _check_grpc(reply: bytes) -> str:
    response = pb.ModelInferResponse.FromString(reply)
    predict = response.outputs[0]
    value = predict.contents.int64_contents[0] if predict.contents.int64_contents else None
    if value != EXPECTED_CLASS:
        raise AssertionError(f"unexpected gRPC answer: {response}")
    return response.model_name


def _check_rest(body: bytes) -> str:
    doc = json.loads(body)
    if doc["outputs"][0]["data"] != [EXPECTED_CLASS]:
        raise AssertionError(f"unexpected REST answer: {body[:300]!r}")
    return doc["model_name"]


Caller = GrpcCaller | HttpCaller


class _BareProxy:
    """bench/_bare_proxy.py in its own process: what any grpc.aio hop costs, without the emulator's routing."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, target: str) -> str:
        port = free_port()
        self.process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_bare_proxy.py"), "--port", str(port),
                                         "--target", target], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("bare proxy did not start")
        return f"127.0.0.1:{port}"

    def __enter__(self) -> _BareProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


def _worker_factory(caller: Caller) -> Any:
    if isinstance(caller, HttpCaller):
        return caller.worker
    return lambda _index: caller


async def _measure(caller: Caller, args: argparse.Namespace, pid: int | None) -> tuple[LoadResult, LoadResult,
                                                                                        float | None]:
    latency = await sequential(caller, args.requests, args.seconds * 4)
    before = cpu_seconds(pid) if pid else None
    load = await closed_loop(_worker_factory(caller), args.concurrency, args.seconds, args.requests * 50)
    cpu = cpu_seconds(pid) - before if pid and before is not None else None
    return latency, load, cpu


async def _warm(caller: Caller, count: int) -> None:
    await closed_loop(_worker_factory(caller), 4, 30, count)


async def _run_paths(paths: dict[str, tuple[Caller, int | None]], groups: list[tuple[str, ...]],
                     args: argparse.Namespace) -> dict[str, Figures]:
    """Each group's paths one after another, in reverse order every other round."""
    figures = {name: Figures() for name in paths}
    for caller, _ in paths.values():
        await _warm(caller, args.warmup)
    for round_index in range(args.rounds):
        for group in groups:
            for name in group if round_index % 2 == 0 else group[::-1]:
                caller, pid = paths[name]
                figures[name].add(*await _measure(caller, args, pid))
        print(f"  round {round_index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    return figures


async def _bench_emulator(emu: EmulatorProcess, proxy: _BareProxy, args: argparse.Namespace) -> dict[str, Figures]:
    runtime = emu.runtime("mlserver-1.x")
    grpc_emu = GrpcCaller(f"127.0.0.1:{emu.grpc_port}", MODEL_INFER, grpc_request(SVM))
    concrete = _check_grpc(await grpc_emu())
    grpc_direct = GrpcCaller(runtime.grpc, MODEL_INFER, grpc_request(SVM, concrete))
    rest_emu = HttpCaller("127.0.0.1", emu.rest_port, f"/v2/models/{SVM}/infer", rest_body(SVM))
    rest_direct = HttpCaller(runtime.http_host, runtime.http_port, f"/v2/models/{concrete}/infer", rest_body(SVM))
    grpc_bare = GrpcCaller(proxy.start(runtime.grpc), MODEL_INFER, grpc_request(SVM, concrete))
    if _check_grpc(await grpc_direct()) != concrete or _check_rest(await rest_emu()) != concrete:
        raise AssertionError("emulator and direct path answer for different models")
    _check_rest(await rest_direct())
    _check_grpc(await grpc_bare())
    paths: dict[str, tuple[Caller, int | None]] = {
        "grpc emulator": (grpc_emu, emu.pid), "grpc bare": (grpc_bare, proxy.pid), "grpc direct": (grpc_direct, None),
        "rest emulator": (rest_emu, emu.pid), "rest direct": (rest_direct, None),
    }
    try:
        return await _run_paths(paths, [("grpc emulator", "grpc bare", "grpc direct"),
                                        ("rest emulator", "rest direct")], args)
    finally:
        for caller, _ in paths.values():
            await caller.close()


async def _bench_ceiling(work: Path, args: argparse.Namespace) -> dict[str, Figures]:
    reply = pb.ModelInferResponse(model_name="m", outputs=[pb.ModelInferResponse.InferOutputTensor(
        name="predict", datatype="INT64", shape=[1, 1],
        contents=pb.InferTensorContents(int64_contents=[EXPECTED_CLASS]))]).SerializeToString()
    (work / "stub.grpc").write_bytes(reply)
    (work / "stub.json").write_bytes(b'{"model_name":"m","outputs":[{"name":"predict","datatype":"INT64",'
                                     b'"shape":[1,1],"data":[8]}]}')
    grpc_port, http_port = free_port(), free_port()
    stub = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_stub_server.py"), "--grpc-port", str(grpc_port),
                             "--http-port", str(http_port), "--grpc-reply", str(work / "stub.grpc"),
                             "--http-reply", str(work / "stub.json")], stdout=subprocess.PIPE, text=True)
    try:
        assert stub.stdout is not None
        if stub.stdout.readline().strip() != "ready":
            raise RuntimeError("stub server did not start")
        grpc_stub = GrpcCaller(f"127.0.0.1:{grpc_port}", MODEL_INFER, grpc_request(SVM))
        rest_stub = HttpCaller("127.0.0.1", http_port, f"/v2/models/{SVM}/infer", rest_body(SVM))
        ceiling_args = argparse.Namespace(**{**vars(args), "rounds": max(1, min(args.rounds, 3))})
        paths: dict[str, tuple[Caller, int | None]] = {"grpc stub": (grpc_stub, None), "rest stub": (rest_stub, None)}
        try:
            return await _run_paths(paths, [("grpc stub", "rest stub")], ceiling_args)
        finally:
            await grpc_stub.close()
            await rest_stub.close()
    finally:
        stub.terminate()
        stub.wait(10)


def _report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    rows = []
    for transport, via, label in (("grpc", "emulator", "GRPC"), ("grpc", "bare", "GRPC bare grpc.aio proxy"),
                                  ("rest", "emulator", "REST")):
        emu, direct = results[f"{transport} {via}"], results[f"{transport} direct"]
        stub = results.get(f"{transport} stub", {}) if via == "emulator" else {}
        rows.append([label, emu["p50_ms"], direct["p50_ms"], emu["p50_ms"] - direct["p50_ms"],
                     emu["p99_ms"], direct["p99_ms"], emu["rps"], direct["rps"], ratio(emu["rps"], direct["rps"]),
                     emu["cpu_us_per_req"], stub.get("p50_ms", float("nan")), stub.get("rps", float("nan")),
                     f"{int(emu['errors'] + direct['errors'])}"])
    headers = ["path", "p50 routed ms", "p50 direct ms", "added p50 ms", "p99 routed ms", "p99 direct ms",
               f"req/s routed c={args.concurrency}", f"req/s direct c={args.concurrency}", "throughput ratio",
               "router CPU µs/req", "client p50 ms (stub)", f"client req/s (stub) c={args.concurrency}", "errors"]
    return table(headers, rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="requests per concurrency-1 run")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each concurrency-16 run")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.requests, args.seconds, args.warmup = 2, 30, 0.3, 20
    with work_dir(args.keep) as work:
        s3 = sample_bucket(work)
        manifests = [ROOT / "runtimes" / "mlserver-1.x.yaml", ROOT / "sample_models" / "sklearn-mnist-svm.yaml"]
        with EmulatorProcess(manifests, work, s3) as emu, _BareProxy() as proxy:
            emu.start()
            figures = run_async(_bench_emulator(emu, proxy, args))
        figures.update(run_async(_bench_ceiling(work, args)))
    results = {name: fig.summary() for name, fig in figures.items()}
    errors = {name: fig.first_error for name, fig in figures.items() if fig.first_error}
    print(f"## Router overhead ({args.rounds} alternating rounds, medians; {args.requests} sequential requests "
          f"and {args.seconds:g} s at c={args.concurrency} per path and round)\n")
    print(f"Machine: {machine_line()}\n")
    print(_report(results, args))
    if errors:
        print(f"\nfirst errors: {errors}")
    print()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
