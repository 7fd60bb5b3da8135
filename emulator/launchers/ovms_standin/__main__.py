"""`python -m emulator.launchers.ovms_standin`: OVMS's command line (the arguments ovms-1.x's container passes)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
import openvino

from .grpc_api import handlers
from .models import ModelManager
from .rest import rest_server

log = logging.getLogger("ovms-standin")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ovms (modelmesh-emulator stand-in)", description=(
        "A stand-in for OpenVINO Model Server: models of --config_path run by the openvino runtime, behind OVMS's "
        "config reload and status API, KServe V2 gRPC and TensorFlow Serving's Predict. Unknown OVMS options are "
        "accepted and ignored."))
    parser.add_argument("--port", type=int, required=True, help="gRPC port")
    parser.add_argument("--rest_port", type=int, required=True, help="REST port")
    parser.add_argument("--config_path", type=Path, required=True, help="the model_config_list JSON file")
    parser.add_argument("--grpc_bind_address", default="127.0.0.1")
    parser.add_argument("--rest_bind_address", default="127.0.0.1")
    parser.add_argument("--file_system_poll_wait_seconds", type=int, default=0,
                        help="only 0 is supported: the config is read at start and on POST /v1/config/reload")
    parser.add_argument("--log_level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    args, ignored = _parser().parse_known_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO), stream=sys.stdout,
                        format="[%(asctime)s][%(name)s][%(levelname)s] %(message)s")
    log.warning("OpenVINO Model Server stand-in of modelmesh-emulator (openvino %s): not Intel's OVMS; "
                "see docs/runtimes.md", openvino.__version__)
    if ignored:
        log.warning("ignored options: %s", " ".join(ignored))
    if args.file_system_poll_wait_seconds:
        log.warning("--file_system_poll_wait_seconds=%d: config polling is not supported, only reload requests",
                    args.file_system_poll_wait_seconds)
    models = ModelManager(args.config_path)
    ready = threading.Event()
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    for handler in handlers(models, ready.is_set):
        grpc_server.add_generic_rpc_handlers((handler,))
    grpc_server.add_insecure_port(f"{args.grpc_bind_address}:{args.port}")
    http = rest_server(args.rest_bind_address, args.rest_port, models)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    grpc_server.start()
    threading.Thread(target=http.serve_forever, name="rest", daemon=True).start()
    if args.config_path.exists():
        models.reload()
    ready.set()
    log.info("serving gRPC on %s:%d, REST on %s:%d", args.grpc_bind_address, args.port, args.rest_bind_address,
             args.rest_port)
    stop.wait()
    http.shutdown()
    grpc_server.stop(grace=5).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
