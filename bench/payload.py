"""Payload: 1 MiB and 16 MiB FP32 tensors through the emulator and straight to the same MLServer instance.

gRPC sends the tensor as `raw_input_contents`; its 16 MiB case is the largest ModelInfer request the emulator
accepts by default (exactly `grpc_max_message_size`, 16777216 bytes, as ModelMesh's `grpcMaxMessageSizeBytes`),
and one byte more must fail with RESOURCE_EXHAUSTED and ModelMesh's text. REST sends the tensor as a JSON `data`
array (the body is larger than the tensor). The model (bench/runtimes/echo) only counts the elements it got, so
the figures are about moving bytes. Rounds alternate emulator and direct; medians.

    .venv/bin/python bench/payload.py [--quick] [--rounds 5] [--requests 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import orjson
from _clients import GrpcCaller, HttpCaller, run_async
from _harness import ROOT, EmulatorProcess, add_common_args, isvc_yaml, work_dir
from _stats import machine_line, median, ratio, table
from mlserver.grpc import dataplane_pb2 as pb

__all__ = ["main"]

MODEL_INFER = "inference.GRPCInferenceService/ModelInfer"
LIMIT = 16777216
ISVC = "payload-echo"
MiB = 2**20


def grpc_payload(model_name: str, elements: int) -> bytes:
    request = pb.ModelInferRequest(model_name=model_name, inputs=[pb.ModelInferRequest.InferInputTensor(
        name="x", datatype="FP32", shape=[elements])], raw_input_contents=[np.ones(elements, "<f4").tobytes()])
    return request.SerializeToString()


def elements_for_message(model_name: str, size: int) -> tuple[int, int]:
    """The most FP32 elements whose ModelInfer request is at most `size` bytes, and that request's size."""
    elements = size // 4
    while len(grpc_payload(model_name, elements)) > size:
        elements -= 1
    return elements, len(grpc_payload(model_name, elements))


def padded_request(model_name: str, size: int) -> bytes:
    """A ModelInfer request of exactly `size` bytes (an unknown field pads it; the runtime ignores it)."""
    elements, actual = elements_for_message(model_name, size - 8)
    base = grpc_payload(model_name, elements)
    pad = size - len(base)
    for filler in range(pad, -1, -1):  # field 15, length-delimited: tag (1) + length varint + bytes
        extra = bytes([15 << 3 | 2]) + _varint(filler) + b"\0" * filler
        if len(base) + len(extra) == size:
            return base + extra
    raise AssertionError(f"cannot pad {actual} bytes to {size}")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def rest_payload(elements: int) -> bytes:
    data = (np.arange(elements) % 100).astype(np.float32)
    return orjson.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [elements], "data": data}]},
                        option=orjson.OPT_SERIALIZE_NUMPY)


def _elements_in_grpc(reply: bytes) -> int:
    response = pb.ModelInferResponse.FromString(reply)
    if response.raw_output_contents:  # MLServer answers raw requests with raw outputs
        return int(np.frombuffer(response.raw_output_contents[0], "<i8")[0])
    return response.outputs[0].contents.int64_contents[0]


def _elements_in_rest(body: bytes) -> int:
    return json.loads(body)["outputs"][0]["data"][0]


async def _timed(call: Any, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return times


async def _bench(emu: EmulatorProcess, args: argparse.Namespace) -> dict[str, Any]:
    runtime = emu.runtime("bench-echo")
    probe = GrpcCaller(f"127.0.0.1:{emu.grpc_port}", MODEL_INFER, grpc_payload(ISVC, 4))
    concrete = pb.ModelInferResponse.FromString(await probe()).model_name
    await probe.close()
    cases: dict[str, dict[str, Any]] = {}
    closers = []
    for label, size in (("1 MiB", None), ("16 MiB", LIMIT)):
        emu_request = padded_request(ISVC, size) if size else grpc_payload(ISVC, MiB // 4)
        elements = pb.ModelInferRequest.FromString(emu_request).inputs[0].shape[0]
        direct_request = grpc_payload(concrete, elements)
        body = rest_payload(elements)
        paths = {
            "grpc emulator": (GrpcCaller(f"127.0.0.1:{emu.grpc_port}", MODEL_INFER, emu_request), _elements_in_grpc),
            "grpc direct": (GrpcCaller(runtime.grpc, MODEL_INFER, direct_request), _elements_in_grpc),
            "rest emulator": (HttpCaller("127.0.0.1", emu.rest_port, f"/v2/models/{ISVC}/infer", body),
                              _elements_in_rest),
            "rest direct": (HttpCaller(runtime.http_host, runtime.http_port, f"/v2/models/{concrete}/infer", body),
                            _elements_in_rest),
        }
        for name, (caller, check) in paths.items():
            got = check(await caller())
            if got != elements:
                raise AssertionError(f"{label} {name}: the runtime saw {got} elements, not {elements}")
            closers.append(caller)
        cases[label] = {"elements": elements, "tensor_bytes": elements * 4, "grpc_bytes": len(emu_request),
                        "rest_bytes": len(body), "paths": paths, "times": {name: [] for name in paths}}
    for round_index in range(args.rounds):
        for case in cases.values():
            for transport in ("grpc", "rest"):
                order = ("emulator", "direct") if round_index % 2 == 0 else ("direct", "emulator")
                for side in order:
                    name = f"{transport} {side}"
                    caller = case["paths"][name][0]
                    case["times"][name].append(median(await _timed(caller, args.requests)))
        print(f"  round {round_index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    over = await _oversize(emu, concrete)
    for caller in closers:
        await caller.close()
    return {"cases": {label: {k: v for k, v in case.items() if k != "paths"} for label, case in cases.items()},
            "limit": over}


async def _oversize(emu: EmulatorProcess, concrete: str) -> dict[str, Any]:
    """A request one byte over the limit: the emulator's answer (the runtime itself takes any size)."""
    request = padded_request(ISVC, LIMIT + 1)
    caller = GrpcCaller(f"127.0.0.1:{emu.grpc_port}", MODEL_INFER, request)
    try:
        await caller()
        outcome = {"code": "OK", "details": ""}
    except grpc.aio.AioRpcError as exc:
        outcome = {"code": exc.code().name, "details": exc.details() or ""}
    finally:
        await caller.close()
    return {"request_bytes": len(request), **outcome}


def _report(result: dict[str, Any]) -> str:
    rows = []
    for label, case in result["cases"].items():
        for transport in ("grpc", "rest"):
            emu = median(case["times"][f"{transport} emulator"]) * 1000
            direct = median(case["times"][f"{transport} direct"]) * 1000
            sent = case[f"{transport}_bytes"]
            rows.append([f"{label} ({case['elements']:,} FP32)", transport.upper(), f"{sent:,}", emu, direct,
                         emu - direct, ratio(emu, direct), sent / MiB / (emu / 1000), sent / MiB / (direct / 1000)])
    text = table(["tensor", "path", "request bytes", "emulator ms", "direct ms", "added ms", "ratio",
                  "emulator MiB/s", "direct MiB/s"], rows)
    over = result["limit"]
    text += (f"\n\nOne byte over the limit ({over['request_bytes']:,} bytes, gRPC): {over['code']}: "
             f"{over['details']!r}")
    return text


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=5, help="requests per path, size and round (median)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.requests = 1, 1
    with work_dir(args.keep) as work:
        s3 = work / "s3"
        model = s3 / "modelmesh-example-models" / "echo" / "model.txt"
        model.parent.mkdir(parents=True)
        model.write_text("the echo runtime needs no model file; ModelMesh needs a storage path\n")
        (work / "isvc.yaml").write_text(isvc_yaml([ISVC], path="echo/model.txt", model_format="bench-echo"))
        runtime = ROOT / "bench" / "runtimes" / "echo" / "servingruntime.yaml"
        with EmulatorProcess([runtime, work / "isvc.yaml"], work, s3) as emu:
            emu.start()
            result = run_async(_bench(emu, args))
    print(f"## Payload ({args.rounds} alternating rounds, median of {args.requests} sequential requests each; "
          f"runtime bench/runtimes/echo)\n")
    print(f"Machine: {machine_line()}\n")
    print(_report(result))
    print()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
