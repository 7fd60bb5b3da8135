"""Memory: resident set size of the emulator process alone (runtimes are separate processes, not counted).

Three states, each in a fresh `modelmesh-emulator serve --lazy` (nothing loads on apply):

* idle       - the mlserver-1.x ServingRuntime and no InferenceService, no request yet;
* 1,000 isvc - the same plus 1,000 registered InferenceServices (generated YAML), none loaded;
* in use     - the sample SVM loaded and `--requests` served through gRPC and REST; the runtime instance's own
               RSS (MLServer's main process) is shown beside it for scale.

RSS is read from /proc/<pid>/status (VmRSS) after the process has settled, several samples, median.

    .venv/bin/python bench/memory.py [--quick] [--isvcs 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _clients import GrpcCaller, HttpCaller, closed_loop, run_async
from _harness import (
    ROOT,
    SVM,
    EmulatorProcess,
    add_common_args,
    grpc_request,
    isvc_yaml,
    rest_body,
    rss_bytes,
    sample_bucket,
    work_dir,
)
from _stats import machine_line, median, table

__all__ = ["main"]

MiB = 2**20
MODEL_INFER = "inference.GRPCInferenceService/ModelInfer"


def _settled_rss(pid: int, samples: int = 5, interval: float = 0.2) -> float:
    time.sleep(1.0)
    values = []
    for _ in range(samples):
        values.append(rss_bytes(pid))
        time.sleep(interval)
    return statistics.median(values)


def _runtime_rss(emu: EmulatorProcess) -> float:
    """RSS of the MLServer main process of the emulator's running instance (found by its models dir)."""
    runtime = emu.runtime("mlserver-1.x")
    needle = str(runtime.log_path.parent).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and b"mlserver" in cmdline and b"start" in cmdline:
            return rss_bytes(int(entry.name))
    return float("nan")


async def _use(emu: EmulatorProcess, requests: int) -> None:
    grpc_caller = GrpcCaller(f"127.0.0.1:{emu.grpc_port}", MODEL_INFER, grpc_request(SVM))
    rest = HttpCaller("127.0.0.1", emu.rest_port, f"/v2/models/{SVM}/infer", rest_body(SVM))
    try:
        await closed_loop(lambda _: grpc_caller, 8, 120, requests // 2)
        await closed_loop(rest.worker, 8, 120, requests // 2)
    finally:
        await grpc_caller.close()
        await rest.close()


def _round(work: Path, s3: Path, isvcs: Path, requests: int) -> dict[str, float]:
    runtime = ROOT / "runtimes" / "mlserver-1.x.yaml"
    result: dict[str, float] = {}
    with EmulatorProcess([runtime], work, s3, lazy=True) as emu:
        emu.start()
        result["idle"] = _settled_rss(emu.pid)
    with EmulatorProcess([runtime, isvcs], work, s3, lazy=True) as emu:
        result["isvcs_apply_s"] = emu.start().wait_serving()
        result["isvcs"] = _settled_rss(emu.pid)
    with EmulatorProcess([runtime, ROOT / "sample_models" / "sklearn-mnist-svm.yaml"], work, s3, lazy=True) as emu:
        emu.start()
        run_async(_use(emu, requests))
        result["in_use"] = _settled_rss(emu.pid)
        result["runtime"] = _runtime_rss(emu)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--isvcs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.isvcs, args.rounds, args.requests = 50, 1, 40
    rounds = []
    with work_dir(args.keep) as work:
        s3 = sample_bucket(work)
        isvcs = work / "isvcs.yaml"
        isvcs.write_text(isvc_yaml([f"mem-{i:04d}" for i in range(args.isvcs)]))
        for round_index in range(args.rounds):
            rounds.append(_round(work, s3, isvcs, args.requests))
            print(f"  round {round_index + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    def m(key: str) -> float:
        return median([r[key] for r in rounds])

    rows = [
        ["idle: mlserver-1.x runtime registered, no InferenceService", m("idle") / MiB, ""],
        [f"{args.isvcs:,} InferenceServices registered (lazy, none loaded)", m("isvcs") / MiB,
         f"+{(m('isvcs') - m('idle')) / args.isvcs / 1024:.1f} KiB per InferenceService; applied in "
         f"{m('isvcs_apply_s'):.1f} s"],
        [f"in use: 1 model loaded, {args.requests:,} requests served (gRPC + REST)", m("in_use") / MiB,
         f"its MLServer runtime process: {m('runtime') / MiB:.0f} MiB"],
    ]
    print(f"## Memory (emulator process RSS, {args.rounds} rounds, medians)\n")
    print(f"Machine: {machine_line()}\n")
    print(table(["state", "RSS MiB", "note"], rows))
    print()
    results = {"isvcs": args.isvcs, "rounds": rounds}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
