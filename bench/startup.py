"""Startup: how long until the emulator answers, and until a preloaded model answers its first inference.

Each round spawns `modelmesh-emulator serve runtimes/mlserver-1.x.yaml sample_models/sklearn-mnist-svm.yaml`
(the model loads on apply, as ModelMesh's loadNow) and polls, from the moment of spawning:

* control plane  - `grpc.health.v1.Health/Check` on the gRPC port answers SERVING;
* first inference - ModelInfer for the sample model succeeds (it waits for the load in progress).

The direct path, in the same round, is MLServer started on its own with the same model loading at startup:
ServerReady, then its first ModelInfer. Rounds alternate which goes first; medians.

    .venv/bin/python bench/startup.py [--quick] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from _clients import run_async
from _harness import (
    ROOT,
    SVM,
    DirectMLServer,
    EmulatorProcess,
    add_common_args,
    grpc_request,
    sample_bucket,
    work_dir,
)
from _stats import machine_line, median, table
from grpc_health.v1 import health_pb2, health_pb2_grpc
from mlserver.grpc import dataplane_pb2 as pb

__all__ = ["main"]

MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"
_POLL_S = 0.01


async def _until(check: Callable[[], Awaitable[bool]], alive: Callable[[], bool], timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if await check():
                return
        except grpc.aio.AioRpcError:
            pass
        if not alive():
            raise RuntimeError("the process exited while starting")
        await asyncio.sleep(_POLL_S)
    raise TimeoutError(f"not ready after {timeout:g}s")


async def _startup(target: str, spawn: Callable[[], float], alive: Callable[[], bool], request: bytes,
                   ready: Callable[[grpc.aio.Channel], Awaitable[bool]], timeout: float) -> tuple[float, float]:
    """Seconds from spawn until `ready` holds, and until the first ModelInfer succeeds."""
    # reconnect every 10-50 ms: the default backoff (1 s and more) would hide when the port starts listening
    options = [("grpc.initial_reconnect_backoff_ms", 10), ("grpc.min_reconnect_backoff_ms", 10),
               ("grpc.max_reconnect_backoff_ms", 50)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        infer = channel.unary_unary(MODEL_INFER)
        started = spawn()
        await _until(lambda: ready(channel), alive, timeout)
        control = time.perf_counter() - started

        async def answered() -> bool:
            reply = pb.ModelInferResponse.FromString(await infer(request, timeout=timeout))
            return bool(reply.outputs)

        await _until(answered, alive, timeout)
        return control, time.perf_counter() - started


async def _health(channel: grpc.aio.Channel) -> bool:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


async def _server_ready(channel: grpc.aio.Channel) -> bool:
    stub = channel.unary_unary("/inference.GRPCInferenceService/ServerReady",
                               request_serializer=pb.ServerReadyRequest.SerializeToString,
                               response_deserializer=pb.ServerReadyResponse.FromString)
    return (await stub(pb.ServerReadyRequest(), timeout=1)).ready


def _emulator_round(work: Path, s3: Path, timeout: float) -> dict[str, float]:
    manifests = [ROOT / "runtimes" / "mlserver-1.x.yaml", ROOT / "sample_models" / "sklearn-mnist-svm.yaml"]
    with EmulatorProcess(manifests, work, s3) as emu:
        def spawn() -> float:
            emu.spawn()
            return emu.spawned_at

        def alive() -> bool:
            return emu.process is not None and emu.process.poll() is None

        control, first = run_async(_startup(f"127.0.0.1:{emu.grpc_port}", spawn, alive, grpc_request(SVM),
                                            _health, timeout))
        serving = emu.wait_serving(timeout)
    return {"control_s": control, "first_infer_s": first, "cli_serving_s": serving}


def _direct_round(work: Path, s3: Path, timeout: float) -> dict[str, float]:
    model = s3 / "modelmesh-example-models" / "sklearn" / "mnist-svm.joblib"
    with DirectMLServer(work, model, SVM) as direct:
        def spawn() -> float:
            direct.spawn()
            return direct.spawned_at

        control, first = run_async(_startup(f"127.0.0.1:{direct.grpc_port}", spawn, direct.alive,
                                            grpc_request(SVM), _server_ready, timeout))
    return {"control_s": control, "first_infer_s": first}


def _report(emulator: list[dict[str, float]], direct: list[dict[str, float]]) -> str:
    def m(rows: list[dict[str, float]], key: str) -> float:
        return median([row[key] for row in rows]) * 1000

    rows = [
        ["emulator (gRPC health SERVING; first ModelInfer through 8033)", m(emulator, "control_s"),
         m(emulator, "first_infer_s")],
        ["MLServer alone (ServerReady; first ModelInfer)", m(direct, "control_s"), m(direct, "first_infer_s")],
        ["difference", m(emulator, "control_s") - m(direct, "control_s"),
         m(emulator, "first_infer_s") - m(direct, "first_infer_s")],
    ]
    return (table(["from spawn until", "control plane answers ms", "first inference ms"], rows)
            + f"\n\nThe CLI printed `serving gRPC …` after {m(emulator, 'cli_serving_s'):.0f} ms (median).")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 1
    emulator: list[dict[str, float]] = []
    direct: list[dict[str, float]] = []
    with work_dir(args.keep) as work:
        s3 = sample_bucket(work)
        for round_index in range(args.rounds):
            steps = [lambda: emulator.append(_emulator_round(work, s3, args.timeout)),
                     lambda: direct.append(_direct_round(work, s3, args.timeout))]
            for step in steps if round_index % 2 == 0 else reversed(steps):
                step()
            print(f"  round {round_index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"## Startup ({args.rounds} alternating rounds, medians; runtime mlserver-1.x, model {SVM})\n")
    print(f"Machine: {machine_line()}\n")
    print(_report(emulator, direct))
    print()
    results = {"emulator": emulator, "direct": direct}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
