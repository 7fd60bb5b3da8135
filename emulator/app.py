"""Composition root: builds the emulator from settings, starts it, applies manifests, stops it cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import grpc

from ._generated.mmesh.model_mesh_pb2_grpc import add_ModelMeshServicer_to_server
from .adapters.factory import build_adapters
from .asgi_server import AsgiServer
from .control.api import build_api_app
from .control.manifests import ManifestSync
from .control.render import track_changes
from .errors import SpecError
from .events import EventRecorder
from .kube.guard import AccessGuard
from .kube.kubeconfig import remove_kubeconfig, write_kubeconfig
from .kube.objects import ObjectStamps
from .kube.tls import make_serving_certificate
from .launchers.factory import build_launcher
from .launchers.process_reaper import remove_run_dir
from .metrics import Metrics
from .modelmesh_service import SERVICE_NAME as MODELMESH_SERVICE
from .modelmesh_service import ModelMeshService
from .placement.placement import Placement
from .placement.runtime_pool import RuntimePool
from .registry import Registry
from .router import DataPlane
from .router.grpc.server import start_grpc_server
from .router.payload_processors import PayloadProcessors, parse_payload_processors
from .router.rest.proxy_link import UnreachableDataPlane, rest_proxy_refusal
from .router.rest.server import build_rest_app
from .router.tls_config import load_tls_config
from .settings import Settings
from .spec import Manifest, load_file, load_text, manifest_files
from .storage.factory import build_puller

__all__ = ["Emulator"]

log = logging.getLogger(__name__)


def _payload_processors(settings: Settings, metrics: Metrics) -> PayloadProcessors | None:
    processors = parse_payload_processors(settings.payload_processors)
    if not processors:
        return None
    return PayloadProcessors(processors, capacity=settings.payload_processors_capacity,
                             workers=settings.payload_processors_threads, decode=settings.payload_decoded_json,
                             registry=metrics.registry)


class Emulator:
    """One emulator: registry, placement, runtime pool and the two routers. Use `async with` or start/stop."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        s = self.settings
        self.work_dir = s.cache_dir / f"run-{os.getpid()}-{secrets.token_hex(3)}"
        self.registry = Registry(default_namespace=s.namespace, rest_proxy_enabled=s.rest_proxy_enabled,
                                 storage_secret_name=s.storage_secret_name,
                                 built_in_server_types=s.built_in_server_types)
        self.metrics = Metrics()
        self.launcher = build_launcher(s)
        self.pool = RuntimePool(self.launcher, build_adapters(s), self.work_dir,
                                default_replicas=s.pods_per_runtime)
        self.placement = Placement(self.registry, self.pool, build_puller(s), s, self.metrics)
        self._stop_metrics: Callable[[], None] | None = None
        self.payloads = _payload_processors(s, self.metrics)
        self.dataplane = DataPlane(self.placement, s.namespace, self.metrics, self.payloads)
        self.registry.subscribe(self.placement.on_registry_change)
        self.stamps = ObjectStamps()
        track_changes(self.registry, self.stamps)
        self.events = EventRecorder(uid_of=self._uid_of)
        self.pool.events = self.placement.events = self.events
        self.manifests = ManifestSync(self.registry, built_in_server_types=s.built_in_server_types,
                                      storage_secret_name=s.storage_secret_name,
                                      max_manifest_bytes=s.max_manifest_bytes)
        self._api_server: AsgiServer | None = None
        self._api_stopping = asyncio.Event()
        self.api_token = secrets.token_urlsafe(32)
        """Bearer token every management API request must carry (in the kubeconfig `serve` writes)."""
        self.api_certificate = ""
        """PEM of the API's self-signed serving certificate (made at start; the clients' trust anchor)."""
        self.api_port = s.api_port
        self._grpc_server: grpc.aio.Server | None = None
        self._rest_server: AsgiServer | None = None
        self.grpc_port = s.grpc_port
        self.rest_port = s.rest_port

    async def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        s = self.settings
        tls = load_tls_config(s.tls_cert_file, s.tls_key_file, s.tls_ca_file, s.tls_client_auth, s.host)
        try:
            self._grpc_server, self.grpc_port = await start_grpc_server(
                self.dataplane, s.host, s.grpc_port, s.grpc_max_message_size,
                services=[(MODELMESH_SERVICE, partial(add_ModelMeshServicer_to_server,
                                                      ModelMeshService(self.placement)))], tls=tls)
            if s.rest_proxy_enabled:
                refusal = await rest_proxy_refusal(tls, s.host, self.grpc_port, s.rest_proxy_skip_verify)
                if refusal is not None:
                    log.warning("REST (8008) requests will fail, as ModelMesh's rest-proxy cannot connect to "
                                "TLS 8033 with these settings: %s", refusal)
                rest_dataplane: Any = self.dataplane if refusal is None else UnreachableDataPlane(refusal)
                self._rest_server = AsgiServer(build_rest_app(rest_dataplane, s.grpc_max_message_size), s.host,
                                               s.rest_port,
                                               tls=None if tls is None else (tls.cert_file, tls.key_file))
                await self._rest_server.start()
                self.rest_port = self._rest_server.port
            if s.metrics_enabled:
                self._stop_metrics = self.metrics.serve(s.host, s.metrics_port)
            if s.api_enabled:
                await self._start_api()
        except BaseException:
            await self.stop()
            raise
        log.info("modelmesh-emulator serving gRPC on %s:%d, REST on %s:%d", s.host, self.grpc_port, s.host,
                 self.rest_port)

    async def _start_api(self) -> None:
        s = self.settings
        self._api_stopping.clear()
        app = AccessGuard(build_api_app(self, self._api_stopping), token=self.api_token, bind_host=s.api_host)
        certificate = await asyncio.to_thread(make_serving_certificate, self.work_dir / "api-tls", s.api_host)
        self.api_certificate = certificate.cert_pem
        self._api_server = AsgiServer(app, s.api_host, s.api_port, tls=(certificate.cert_file, certificate.key_file))
        self.api_port = self._api_server.port
        await self._api_server.start()
        if s.kubeconfig is not None:
            await asyncio.to_thread(write_kubeconfig, s.kubeconfig, server=self.api_client_url or "",
                                    token=self.api_token, ca_pem=self.api_certificate, namespace=s.namespace)

    async def stop(self) -> None:
        if self._api_server is not None:
            self._api_stopping.set()  # ends open watches, or uvicorn would wait for them
            await self._api_server.stop()
            self._api_server = None
            if self.settings.kubeconfig is not None:
                await asyncio.to_thread(remove_kubeconfig, self.settings.kubeconfig, self.api_token)
        if self._stop_metrics is not None:
            await asyncio.to_thread(self._stop_metrics)
            self._stop_metrics = None
        if self._rest_server is not None:
            await self._rest_server.stop()
            self._rest_server = None
        if self._grpc_server is not None:
            await self._grpc_server.stop(grace=1.0)
            self._grpc_server = None
        if self.payloads is not None:
            await self.payloads.aclose()
        await self.placement.shutdown()
        await self.pool.stop_all()
        await asyncio.to_thread(remove_run_dir, self.work_dir)

    def _uid_of(self, kind: str, namespace: str | None, name: str) -> str | None:
        stamp = self.stamps.stamp((kind, namespace, name))
        return stamp.uid if stamp is not None else None

    @property
    def grpc_url(self) -> str:
        return f"grpc://{self.settings.host}:{self.grpc_port}"

    @property
    def rest_url(self) -> str | None:
        scheme = "https" if self.settings.tls_cert_file is not None else "http"
        return f"{scheme}://{self.settings.host}:{self.rest_port}" if self.settings.rest_proxy_enabled else None

    @property
    def api_url(self) -> str | None:
        return f"https://{self.settings.api_host}:{self.api_port}" if self.settings.api_enabled else None

    @property
    def launcher_name(self) -> str:
        return self.launcher.name

    @property
    def api_client_url(self) -> str | None:
        """Where a client on this machine reaches the API (a wildcard bind is reached on 127.0.0.1)."""
        if not self.settings.api_enabled:
            return None
        host = "127.0.0.1" if self.settings.api_host in ("0.0.0.0", "::", "") else self.settings.api_host
        return f"https://{host}:{self.api_port}"

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def apply(self, manifests: Iterable[Manifest]) -> list[str]:
        """Apply manifests in order; returns kubectl-style lines (`inferenceservice/x created`)."""
        lines = []
        for manifest in manifests:
            result = self.registry.apply(manifest)
            lines.append(f"{manifest.kind.lower()}/{manifest.metadata.name} {result.action}")
        return lines

    def apply_text(self, text: str, source: str = "<string>") -> list[str]:
        return self.apply(load_text(text, source=source, **self._load_options()))

    def apply_paths(self, paths: Iterable[Path]) -> list[str]:
        """Apply every manifest under `paths`; a file with errors is reported and skipped, the rest applies."""
        lines = []
        for path in manifest_files(paths):
            try:
                lines += self.apply(load_file(path, **self._load_options()))
            except SpecError as exc:
                log.error("%s", exc.message)
                lines.append(f"error: {exc.message}")
        return lines

    def _load_options(self) -> dict[str, object]:
        return {"built_in_server_types": self.settings.built_in_server_types,
                "storage_secret_name": self.settings.storage_secret_name,
                "max_bytes": self.settings.max_manifest_bytes}
