"""Event loop A/B: the emulator's CPU time per routed request on asyncio's loop and on uvloop, in one run.

Two emulators serve the sample SVM side by side, one per loop (uvloop with GRPC_ENABLE_FORK_SUPPORT=false, which
`auto` needs to pick it; see emulator/event_loop.py). Rounds alternate which goes first; each round drives
`--seconds` of concurrency-16 load through gRPC and through REST and reads the emulator's own CPU time from /proc.
CPU per request is far less sensitive to other load on the machine than latency or throughput.

    .venv/bin/python bench/event_loops.py [--quick] [--rounds 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from _clients import GrpcCaller, HttpCaller, closed_loop, run_async
from _harness import ROOT, SVM, EmulatorProcess, add_common_args, cpu_seconds, grpc_request, rest_body, sample_bucket
from _harness import work_dir as make_work_dir
from _stats import machine_line, median, ratio, table

__all__ = ["main"]

MODEL_INFER = "inference.GRPCInferenceService/ModelInfer"
LOOPS = {"asyncio": {"MMEMU_EVENT_LOOP": "asyncio"},
         "uvloop": {"MMEMU_EVENT_LOOP": "uvloop", "GRPC_ENABLE_FORK_SUPPORT": "false"}}


async def _bench(emus: dict[str, EmulatorProcess], args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    callers: dict[tuple[str, str], Any] = {}
    for loop, emu in emus.items():
        grpc_caller = GrpcCaller(f"127.0.0.1:{emu.grpc_port}", MODEL_INFER, grpc_request(SVM))
        rest = HttpCaller("127.0.0.1", emu.rest_port, f"/v2/models/{SVM}/infer", rest_body(SVM))
        callers[(loop, "grpc")] = (lambda _index, c=grpc_caller: c, grpc_caller, emu.pid)
        callers[(loop, "rest")] = (rest.worker, rest, emu.pid)
    figures: dict[str, dict[str, list[float]]] = {f"{t} {loop}": {"cpu_us": [], "rps": []}
                                                  for loop in emus for t in ("grpc", "rest")}
    try:
        for worker, _, _ in callers.values():
            await closed_loop(worker, 4, 30, args.warmup)
        loops = list(emus)
        for round_index in range(args.rounds):
            order = loops if round_index % 2 == 0 else loops[::-1]
            for transport in ("grpc", "rest"):
                for loop in order:
                    worker, _, pid = callers[(loop, transport)]
                    before = cpu_seconds(pid)
                    result = await closed_loop(worker, args.concurrency, args.seconds, 10**9)
                    if result.errors:
                        raise RuntimeError(f"{transport} {loop}: {result.errors} errors, first {result.first_error}")
                    spent = cpu_seconds(pid) - before
                    figures[f"{transport} {loop}"]["cpu_us"].append(spent / max(result.completed, 1) * 1e6)
                    figures[f"{transport} {loop}"]["rps"].append(result.throughput)
            print(f"  round {round_index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        for _, caller, _ in callers.values():
            await caller.close()
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.warmup = 2, 0.3, 20
    manifests = [ROOT / "runtimes" / "mlserver-1.x.yaml", ROOT / "sample_models" / "sklearn-mnist-svm.yaml"]
    with make_work_dir(args.keep) as work:
        s3 = sample_bucket(work)
        emus = {loop: EmulatorProcess(manifests, work, s3, env=env) for loop, env in LOOPS.items()}
        try:
            for emu in emus.values():
                emu.start()
            figures = run_async(_bench(emus, args))
        finally:
            for emu in emus.values():
                emu.stop()
    rows = []
    for transport in ("grpc", "rest"):
        a, u = figures[f"{transport} asyncio"], figures[f"{transport} uvloop"]
        rows.append([transport.upper(), median(a["cpu_us"]), median(u["cpu_us"]),
                     ratio(median(u["cpu_us"]), median(a["cpu_us"])), median(a["rps"]), median(u["rps"])])
    print(f"## Event loop A/B ({args.rounds} alternating rounds, medians; {args.seconds:g} s at "
          f"c={args.concurrency} per loop, transport and round)\n")
    print(f"Machine: {machine_line()}\n")
    print(table(["path", "emu CPU µs/req asyncio", "emu CPU µs/req uvloop", "uvloop / asyncio",
                 f"req/s asyncio c={args.concurrency}", f"req/s uvloop c={args.concurrency}"], rows))
    print()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
