"""`make bench`: every benchmark in turn, each in its own process, its table printed as it finishes; then the
issue's targets checked against the figures of this run.

    .venv/bin/python bench/run_all.py [--quick] [--only router_overhead,cold_start,…]

The default counts keep the whole run near ten minutes on a 2-core machine; each script takes its own options
for longer runs (`--help`).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _stats import load_average, machine_line, median, table

__all__ = ["SCRIPTS", "main", "targets"]

HERE = Path(__file__).resolve().parent
MB = 10**6
# script → options of a full run (sized for the ten-minute budget); --quick replaces them with the script's own
SCRIPTS: dict[str, list[str]] = {
    "router_overhead": ["--rounds", "5", "--requests", "1000", "--seconds", "3"],
    "cold_start": ["--models", "10", "--herd", "50"],
    "churn": ["--models", "100", "--capacity", "20", "--requests", "1000", "--rate", "10"],
    "startup": ["--rounds", "5"],
    "memory": ["--isvcs", "1000", "--rounds", "3"],
    "payload": ["--rounds", "5", "--requests", "3"],
    "event_loops": ["--rounds", "5", "--seconds", "3"],
}

Row = list[object]


def _router(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for transport, limit in (("grpc", 1.0), ("rest", 1.5)):
        emu, direct = r[f"{transport} emulator"], r[f"{transport} direct"]
        added = emu["p50_ms"] - direct["p50_ms"]
        rows.append([f"{transport.upper()} added latency p50 ≤ {limit} ms", f"{added:.2f} ms", added <= limit])
        share = emu["rps"] / direct["rps"] if direct["rps"] else math.nan
        rows.append([f"{transport.upper()} throughput c=16 ≥ 0.8 x direct", f"{share:.3f} x", share >= 0.8])
    return rows


def _cold(r: dict[str, Any]) -> list[Row]:
    firsts = r["runtime_running"]
    above = median([f["total_ms"] - f["pull_ms"] - f["load_ms"] for f in firsts])
    herd = r["herd"]
    counts = (herd["adapter_loads"], herd["runtime_log_loads"], int(herd["metric_loads"]))
    return [["cold start ≤ 100 ms above pull + load (median, runtime running)", f"{above:.1f} ms", above <= 100],
            [f"{herd['requests']} concurrent first requests: exactly one load, no error",
             f"loads {'/'.join(map(str, counts))}, errors {herd['errors']}",
             set(counts) == {1} and herd["errors"] == 0]]


def _churn(r: dict[str, Any] | None) -> list[Row]:
    if r is None:
        return [["churn", "not measured (no model cache)", False]]
    diff = (r["hit_ratio"] - r["sim_hit_ratio"]) * 100
    return [["churn hit ratio within ±2 points of exact LRU", f"{diff:+.2f} points", abs(diff) <= 2],
            ["churn loaded bytes never above capacity",
             f"{r['max_used_bytes'] / 2**20:.2f} / {r['capacity_bytes'] / 2**20:.2f} MiB; "
             f"{r['max_resident_models']} / {r['capacity_models']} models in MLServer",
             r["max_used_bytes"] <= r["capacity_bytes"] and r["max_resident_models"] <= r["capacity_models"]],
            ["churn errors 0", f"{r['errors']}", r["errors"] == 0]]


def _memory(r: dict[str, Any]) -> list[Row]:
    idle = median([x["idle"] for x in r["rounds"]])
    isvcs = median([x["isvcs"] for x in r["rounds"]])
    return [["router RSS idle ≤ 120 MB", f"{idle / MB:.1f} MB", idle <= 120 * MB],
            [f"router RSS with {r.get('isvcs', 1000):,} InferenceServices ≤ 150 MB", f"{isvcs / MB:.1f} MB",
             isvcs <= 150 * MB]]


def _payload(r: dict[str, Any]) -> list[Row]:
    limit = r["limit"]
    passed = "16 MiB" in r["cases"]  # the script fails unless every path answered with every element counted
    return [["1 MiB and 16 MiB pass via gRPC (raw contents) and REST", "all answered" if passed else "missing",
             passed],
            ["one byte over 16 MiB: RESOURCE_EXHAUSTED naming the limit", f"{limit['code']}: {limit['details']}",
             limit["code"] == "RESOURCE_EXHAUSTED" and "16777216" in limit["details"]]]


CHECKS: dict[str, Callable[[Any], list[Row]]] = {
    "router_overhead": _router, "cold_start": _cold, "churn": _churn, "memory": _memory, "payload": _payload,
}


def targets(results: dict[str, Any]) -> str:
    """The issue's targets, each with the figure of this run and whether it holds."""
    rows: list[Row] = []
    for name, check in CHECKS.items():
        if name in results:
            rows.extend(check(results[name]))
    return table(["target", "this run", "holds"],
                 [[target, figure, "yes" if ok else "NO"] for target, figure, ok in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every script with tiny counts (a smoke run)")
    parser.add_argument("--only", help="comma-separated scripts to run (default: all)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(SCRIPTS)
    unknown = set(names) - set(SCRIPTS)
    if unknown:
        parser.error(f"unknown scripts: {', '.join(sorted(unknown))}")
    results: dict[str, Any] = {}
    failed: list[str] = []
    started = time.monotonic()
    print(f"# modelmesh-emulator benchmarks ({'quick' if args.quick else 'full'} run)\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="mmemu-bench-json-") as tmp:
        for name in names:
            out = Path(tmp) / f"{name}.json"
            options = ["--quick"] if args.quick else SCRIPTS[name]
            began, load = time.monotonic(), load_average()
            code = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *options, "--json", str(out)],
                                  cwd=HERE.parent).returncode
            print(f"_{name}: {time.monotonic() - began:.0f} s, load average {load} before, {load_average()} "
                  f"after_\n", flush=True)
            if code != 0:
                failed.append(name)
            elif out.exists():
                results[name] = json.loads(out.read_text())
            elif name == "churn":
                results[name] = None  # measured nothing (the script said why)
    print("## Targets\n")
    print(f"Machine: {machine_line()}\n")
    print(targets(results))
    print(f"\nTotal {time.monotonic() - started:.0f} s.")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
