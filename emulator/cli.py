"""`modelmesh-emulator` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from . import __version__
from .app import Emulator
from .errors import EmulatorError
from .settings import Settings

__all__ = ["main"]

log = logging.getLogger("emulator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelmesh-emulator",
        description="KServe ModelMesh's serving contract on one machine: ServingRuntime and "
                    "InferenceService YAML in, KServe V2 gRPC (8033) and REST (8008) out.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="start the emulator with the manifests in PATH (files or directories)",
        description="Start the emulator and apply every ServingRuntime, ClusterServingRuntime, "
                    "InferenceService, Predictor and storage-config Secret found in PATH. "
                    "Every option can also be set as an MMEMU_* environment variable.",
    )
    serve.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="manifest files or directories")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; MMEMU_HOST)")
    serve.add_argument("--grpc-port", type=int, help="gRPC inference port (default 8033; MMEMU_GRPC_PORT)")
    serve.add_argument("--rest-port", type=int, help="REST inference port (default 8008; MMEMU_REST_PORT)")
    serve.add_argument("--launcher", choices=["auto", "process"],
                       help="how runtimes run (default auto; MMEMU_LAUNCHER)")
    serve.add_argument("--cache-dir", type=Path, help="working directory for runtime instances "
                       "(default ~/.cache/modelmesh-emulator; MMEMU_CACHE_DIR)")
    serve.add_argument("--local-s3-root", type=Path, help="directory standing in for S3 when a storage "
                       "entry has no endpoint: <root>/<bucket>/<key> (default sample_models/bucket; "
                       "MMEMU_LOCAL_S3_ROOT)")
    serve.add_argument("--pvc-root", type=Path, help="directory with one folder per PVC name "
                       "(default pvcs; MMEMU_PVC_ROOT)")
    serve.add_argument("--lazy", action="store_true", help="load models on first request instead of "
                       "on apply (MMEMU_LOAD_ON_APPLY=false)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "host": args.host, "grpc_port": args.grpc_port, "rest_port": args.rest_port,
        "launcher": args.launcher, "cache_dir": args.cache_dir, "local_s3_root": args.local_s3_root,
        "pvc_root": args.pvc_root, "load_on_apply": False if args.lazy else None,
    }
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


async def _serve(settings: Settings, paths: list[Path]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Emulator(settings) as emulator:
            for line in emulator.apply_paths(paths):
                print(line, flush=True)
            print(f"serving gRPC on {settings.host}:{emulator.grpc_port}, REST on "
                  f"{settings.host}:{emulator.rest_port} (Ctrl-C stops)", flush=True)
            await stop.wait()
            log.info("stopping")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            asyncio.run(_serve(_settings(args), args.paths))
        return 0
    except (EmulatorError, OSError) as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
