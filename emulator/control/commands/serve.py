"""`serve [PATH…]`: run the emulator with the manifests in PATH, re-applying them as they change."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import typing
from pathlib import Path
from typing import TYPE_CHECKING

from ...kube.kubeconfig import KubeconfigError, default_kubeconfig_path
from ...settings import Settings
from ..client import CommandError

if TYPE_CHECKING:
    from ...app import Emulator

__all__ = ["add_parser", "launcher_choices", "settings_from"]

log = logging.getLogger("emulator")


def launcher_choices() -> tuple[str, ...]:
    """The `launcher` setting's allowed values, read from the Settings model."""
    return tuple(str(choice) for choice in typing.get_args(Settings.model_fields["launcher"].annotation))


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    serve = commands.add_parser(
        "serve", parents=parents, help="start the emulator with the manifests in PATH (files or directories)",
        description="Start the emulator and apply every ServingRuntime, ClusterServingRuntime, InferenceService, "
                    "Predictor and storage-config Secret found in PATH, then keep applying them as the files "
                    "change. Every option can also be set as an MMEMU_* environment variable (docs/settings.md).")
    serve.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="manifest files or directories")
    serve.add_argument("--host", metavar="ADDRESS", help="address the routers bind to (default 127.0.0.1; MMEMU_HOST)")
    serve.add_argument("--grpc-port", type=int, metavar="PORT",
                       help="gRPC inference port (default 8033; MMEMU_GRPC_PORT)")
    serve.add_argument("--rest-port", type=int, metavar="PORT",
                       help="REST inference port (default 8008; MMEMU_REST_PORT)")
    serve.add_argument("--api-port", type=int, metavar="PORT", help="management API port, on 127.0.0.1 (default 8034; "
                       "MMEMU_API_PORT)")
    serve.add_argument("--kubeconfig", type=Path, metavar="PATH", help="where to write the kubeconfig (mode 0600) "
                       "with the management API's address and token, for kubectl and the client commands (default "
                       "~/.modelmesh-emulator/kubeconfig; MMEMU_KUBECONFIG)")
    serve.add_argument("--launcher", choices=launcher_choices(),
                       help="how runtimes run (default auto; MMEMU_LAUNCHER)")
    serve.add_argument("--cache-dir", type=Path, metavar="DIR", help="working directory for runtime instances "
                       "(default ~/.cache/modelmesh-emulator; MMEMU_CACHE_DIR)")
    serve.add_argument("--local-s3-root", type=Path, metavar="DIR", help="directory standing in for S3 when a storage "
                       "entry has no endpoint: <root>/<bucket>/<key> (default sample_models/bucket; "
                       "MMEMU_LOCAL_S3_ROOT)")
    serve.add_argument("--pvc-root", type=Path, metavar="DIR", help="directory with one folder per PVC name "
                       "(default pvcs; MMEMU_PVC_ROOT)")
    serve.add_argument("--lazy", dest="load_on_apply", action="store_false", default=None,
                       help="load models on first request instead of on apply (MMEMU_LOAD_ON_APPLY=false)")
    serve.add_argument("--no-watch", dest="watch", action="store_false", default=None,
                       help="apply PATH once; do not follow changes to the files (MMEMU_WATCH=false)")
    serve.set_defaults(run=run)
    return serve


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from MMEMU_* variables, overridden by the options given (each option's dest is its field)."""
    overrides = {name: getattr(args, name) for name in Settings.model_fields if getattr(args, name, None) is not None}
    settings = Settings(**overrides)
    if settings.kubeconfig is None:
        settings = settings.model_copy(update={"kubeconfig": default_kubeconfig_path()})
    return settings


async def _serve(settings: Settings, paths: list[Path]) -> None:
    from ...app import Emulator  # the client commands never pay for importing the emulator itself

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        emulator = Emulator(settings)
        try:
            await emulator.start()
        except (OSError, RuntimeError) as exc:  # grpc reports a port it cannot bind as RuntimeError
            raise CommandError(f"cannot start the emulator: {str(exc).rstrip('.')}. Is another one running? "
                               "Other ports: --grpc-port, --rest-port, --api-port, MMEMU_METRICS_PORT") from exc
        except KubeconfigError as exc:
            raise CommandError(f"cannot start the emulator: {exc}") from None
        try:
            await _run_until_stopped(emulator, paths, stop)
        finally:
            await emulator.stop()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


async def _run_until_stopped(emulator: Emulator, paths: list[Path], stop: asyncio.Event) -> None:
    from ..watcher import WatchedFiles, watch

    settings = emulator.settings
    files = WatchedFiles(emulator.manifests, paths)
    for change in files.scan(initial=True):
        for line in change.lines():
            print(line, flush=True)
    api = f", management API on {emulator.api_url}" if emulator.api_url else ""
    if emulator.api_url and settings.kubeconfig is not None:
        print(f"kubeconfig for kubectl written to {settings.kubeconfig} (export KUBECONFIG={settings.kubeconfig})",
              flush=True)
    print(f"serving gRPC on {settings.host}:{emulator.grpc_port}, REST on {settings.host}:{emulator.rest_port}{api} "
          "(Ctrl-C stops)", flush=True)
    watcher = asyncio.create_task(watch(files, stop)) if settings.watch and paths else None
    await stop.wait()
    log.info("stopping")
    if watcher is not None:
        await watcher


def run(args: argparse.Namespace) -> int:
    asyncio.run(_serve(settings_from(args), args.paths))
    return 0
