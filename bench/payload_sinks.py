"""Payload processors on the inference path: gRPC ModelInfer latency and throughput through the emulator with no
payload processor, with an `http://` sink nothing listens on (dead), and with one that answers after 1 s (slow).

The records go through a bounded queue to background senders, so the figures should match within noise; the dead
and slow sinks show up as dropped records (`mmemu_payload_records_dropped_total`), never as failed requests.

    .venv/bin/python bench/payload_sinks.py [--quick] [--rounds 3] [--requests 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import re
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _clients import GrpcCaller, closed_loop, run_async, sequential
from _harness import ROOT, EmulatorProcess, add_common_args, grpc_request, sample_bucket, work_dir
from _stats import machine_line, median, percentile, table

from emulator.launchers.ports import free_port

__all__ = ["main"]

ISVC = "example-sklearn-mnist-svm"
MODEL_INFER = "inference.GRPCInferenceService/ModelInfer"
_DROPPED = re.compile(r"^mmemu_payload_records_dropped_total\{[^}]*\} ([0-9.e+]+)$", re.MULTILINE)


class _SlowSink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(1.0)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def _dropped(metrics_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as reply:
        reply_text = reply.read().decode()
    return sum(float(value) for value in _DROPPED.findall(reply_text)) if reply_text else 0.0


async def _measure(target: str, requests: int, seconds: float) -> dict[str, float]:
    request = grpc_request(ISVC)
    caller = GrpcCaller(target, MODEL_INFER, request)
    callers = [GrpcCaller(target, MODEL_INFER, request) for _ in range(8)]
    try:
        await sequential(caller, 20, 30)  # warm-up
        latency = await sequential(caller, requests, seconds * 4)
        load = await closed_loop(lambda index: callers[index], 8, seconds, requests * 10)
    finally:
        for each in (caller, *callers):
            await each.close()
    ms = [s * 1000 for s in latency.latencies_s]
    return {"p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99), "rps": load.throughput,
            "errors": latency.errors + load.errors}


_COLUMNS = (("p50_ms", 2), ("p99_ms", 2), ("rps", 0), ("errors", 0), ("dropped", 0))


def _run_one(work: Path, s3_root: Path, processors: str, requests: int, seconds: float) -> dict[str, float]:
    emulator = EmulatorProcess([ROOT / "runtimes" / "mlserver-1.x.yaml",
                                ROOT / "sample_models" / "sklearn-mnist-svm.yaml"], work, s3_root,
                               env={"MMEMU_PAYLOAD_PROCESSORS": processors})
    try:
        emulator.start()
        figures = run_async(_measure(f"127.0.0.1:{emulator.grpc_port}", requests, seconds))
        figures["dropped"] = _dropped(emulator.metrics_port) if processors else 0.0
    finally:
        emulator.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    requests, seconds, rounds = (100, 1.0, 1) if args.quick else (args.requests, args.seconds, args.rounds)
    slow = ThreadingHTTPServer(("127.0.0.1", 0), _SlowSink)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    configurations = {
        "no payload processor": "",
        "dead http sink": f"http://127.0.0.1:{free_port()}/dead",
        "slow http sink (1 s)": f"http://127.0.0.1:{slow.server_address[1]}/slow",
    }
    figures: dict[str, list[dict[str, float]]] = {label: [] for label in configurations}
    try:
        with work_dir(args.keep) as work:
            s3_root = sample_bucket(work)
            for round_index in range(rounds):
                labels = list(configurations)
                labels = labels[round_index % len(labels):] + labels[:round_index % len(labels)]  # rotate the order
                for label in labels:
                    figures[label].append(_run_one(work, s3_root, configurations[label], requests, seconds))
    finally:
        slow.shutdown()
        slow.server_close()
    rows = [[label, *(f"{median([r[key] for r in runs]):.{digits}f}" for key, digits in _COLUMNS)]
            for label, runs in figures.items()]
    print(machine_line())
    print(f"medians of {rounds} rounds (order rotated each round); errors and drops per run")
    print(table(["gRPC ModelInfer through the emulator", "p50 ms", "p99 ms", "req/s (c=8)", "errors",
                 "records dropped"], rows))


if __name__ == "__main__":
    main()
