"""Run runtimes as Docker containers, one per instance, as ModelMesh's controller runs them in pods.

The container is the ServingRuntime's model server container (docker_config.py says what is taken from the
manifest and what the emulator overrides). Containers carry labels naming this emulator, so that stopping it
removes them and a later emulator removes those of one that was killed (docker_labels.py). Whether a container
still runs comes from the daemon's event stream (docker_watch.py). Readiness is the adapter's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container as DockerContainer

from ..errors import RuntimeStartError, UnsupportedError
from ..spec import ServingRuntime, parse_endpoint
from .base import RuntimePorts
from .docker_config import CONTAINER_MODELS_DIR, run_arguments
from .docker_labels import LABEL_INSTANCE, LABEL_OWNER, LABEL_RUNTIME, LABEL_SESSION, reap_leftovers
from .docker_site import DockerSite, detect_site
from .docker_watch import ContainerWatch
from .images import ImageResolver
from .process import runtime_container

__all__ = ["DockerInstance", "DockerLauncher"]

log = logging.getLogger(__name__)

_POLL_INTERVAL_S = 1.0  # how often is_running() may ask the daemon when the event stream is lost
_STOPPED_LOG_LINES = 20
_API_TIMEOUT_S = 60  # per daemon call; stop() adds its grace period


class DockerInstance:
    def __init__(self, *, launcher: DockerLauncher, container: DockerContainer, instance_id: str,
                 runtime_name: str, models_dir: Path, ports: RuntimePorts):
        self.instance_id = instance_id
        self.runtime_name = runtime_name
        self.models_dir = models_dir
        self.container_models_dir = CONTAINER_MODELS_DIR
        self.ports = ports
        self.container = container
        self.container_id: str = container.id or ""
        self._launcher = launcher
        self._exited = False
        self._polled_at = 0.0

    def is_running(self) -> bool:
        if self._exited:
            return False
        watch = self._launcher.watch
        if watch.exited(self.container_id):
            self._exited = True
        elif not watch.healthy and time.monotonic() - self._polled_at >= _POLL_INTERVAL_S:
            self._polled_at = time.monotonic()
            self._exited = not self._launcher.container_running(self.container_id)
        return not self._exited

    def log_tail(self, lines: int = 40) -> str:
        try:
            output = self.container.logs(tail=lines)
        except docker.errors.DockerException:
            return ""
        return output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output)

    async def stop(self) -> None:
        await asyncio.to_thread(self.remove)

    def remove(self) -> None:
        """Stop (SIGTERM, then kill after the grace period) and remove the container; blocking."""
        if not self.is_running():
            tail = self.log_tail(_STOPPED_LOG_LINES).rstrip()
            log.warning("runtime %s container %s had exited%s", self.runtime_name, self.container.name,
                        f"; its last log lines:\n{tail}" if tail else "")
        with contextlib.suppress(docker.errors.NotFound):
            if not self._exited:
                self.container.stop(timeout=max(1, round(self._launcher.stop_grace_s)))
        with contextlib.suppress(docker.errors.NotFound):
            self.container.remove(force=True, v=True)
        self._exited = True
        self._launcher.forget(self)


class DockerLauncher:
    name = "docker"

    def __init__(self, client: docker.DockerClient, *, image_overrides: dict[str, str], stop_grace_s: float = 90.0,
                 read_only_dirs: tuple[Path, ...] = ()):
        """`read_only_dirs` are mounted at their own path in every runtime container (PVC symlinks point there)."""
        self.client = client
        self.stop_grace_s = stop_grace_s
        self.session = secrets.token_hex(8)
        self.site: DockerSite = detect_site(client)
        self.watch = ContainerWatch(client, f"{LABEL_SESSION}={self.session}")
        self._images = ImageResolver(client, image_overrides)
        self._read_only_dirs = read_only_dirs
        self._live: dict[str, DockerInstance] = {}
        self._cpus = int(client.info().get("NCPU") or 1)
        self._lock = threading.Lock()
        reap_leftovers(client)

    @classmethod
    def from_env(cls, **kwargs: Any) -> DockerLauncher:
        """Connect as the docker CLI does (DOCKER_HOST, or the local socket); fails if no daemon answers."""
        try:
            client = docker.from_env(timeout=_API_TIMEOUT_S)
            client.ping()
        except docker.errors.DockerException as exc:
            raise RuntimeStartError(f"docker launcher: no Docker daemon answers ({exc})") from None
        return cls(client, **kwargs)

    async def start(self, runtime: ServingRuntime, instance_id: str, work_dir: Path) -> DockerInstance:
        starting = asyncio.ensure_future(asyncio.to_thread(self._start, runtime, instance_id, work_dir))
        try:
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            # The thread cannot be interrupted: let it finish, then remove the container it started.
            with contextlib.suppress(Exception):
                instance = await starting
                await asyncio.to_thread(instance.remove)
            raise

    def container_running(self, container_id: str) -> bool:
        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return False
        except docker.errors.DockerException:
            return True  # the daemon is unreachable: assume nothing changed
        return container.status in ("created", "running", "restarting")

    def forget(self, instance: DockerInstance) -> None:
        with self._lock:
            self._live.pop(instance.container_id, None)
            self.watch.forget(instance.container_id)
            if not self._live:
                self.watch.close()

    def _start(self, runtime: ServingRuntime, instance_id: str, work_dir: Path) -> DockerInstance:
        name = runtime.metadata.name
        container_spec = runtime_container(runtime)
        if not container_spec.image:
            raise UnsupportedError(f"ServingRuntime {name!r}: container {container_spec.name!r} has no image")
        ports = _declared_ports(runtime)
        image = self._images.resolve(name, container_spec.image)
        models_dir = work_dir / "models"
        models_dir.mkdir(parents=True, exist_ok=True)
        arguments = run_arguments(runtime, container_spec, image=image, host_cpus=self._cpus)
        volumes = {self.site.host_path(models_dir): {"bind": CONTAINER_MODELS_DIR, "mode": "rw"}}
        for directory in self._read_only_dirs:
            volumes[self.site.host_path(directory)] = {"bind": str(directory), "mode": "ro"}
        arguments.update(
            name=_container_name(instance_id),
            labels={
                LABEL_SESSION: self.session, LABEL_OWNER: self.site.owner, LABEL_RUNTIME: name,
                LABEL_INSTANCE: instance_id,
                # The runtime pod's labels (reference §1.3).
                "modelmesh-service": "modelmesh-serving", "name": f"modelmesh-serving-{name}",
            },
            volumes=volumes, detach=True,
        )
        if self.site.network is None:
            arguments["ports"] = {f"{port}/tcp": ("127.0.0.1", None) for port in ports.values()}
        else:
            arguments["network"] = self.site.network
        with self._lock:
            if not self._live:
                self.watch.start()
            try:
                container = self.client.containers.run(**arguments)
            except docker.errors.DockerException as exc:
                with contextlib.suppress(docker.errors.DockerException):  # created, but it would not start
                    self.client.api.remove_container(arguments["name"], force=True, v=True)
                if not self._live:
                    self.watch.close()
                raise RuntimeStartError(f"ServingRuntime {name!r}: cannot start a container from {image}: "
                                        f"{exc}") from None
            instance = DockerInstance(launcher=self, container=container, instance_id=instance_id,
                                      runtime_name=name, models_dir=models_dir, ports=RuntimePorts("", ""))
            self._live[instance.container_id] = instance
        try:
            instance.ports = self._addresses(container, ports)
        except BaseException:
            instance.remove()
            raise
        log.info("runtime %s instance %s: container %s (%s), data %s, management %s", name, instance_id,
                 container.name, image, instance.ports.data, instance.ports.management)
        return instance

    def _addresses(self, container: DockerContainer, ports: dict[str, int]) -> RuntimePorts:
        container.reload()
        addresses = {}
        for role, port in ports.items():
            if self.site.network is None:
                bindings = (container.ports or {}).get(f"{port}/tcp") or []
                if not bindings:
                    tail = container.logs(tail=40).decode("utf-8", "replace").rstrip()
                    raise RuntimeStartError(
                        f"runtime {container.labels.get(LABEL_RUNTIME)!r} container {container.name} exited during "
                        f"startup (before its port {port} was published); last log lines:\n{tail}"
                    )
                addresses[role] = f"127.0.0.1:{bindings[0]['HostPort']}"
            else:
                network = container.attrs["NetworkSettings"]["Networks"][self.site.network]
                addresses[role] = f"{network['IPAddress']}:{port}"
        return RuntimePorts(data=addresses["data"], management=addresses["management"])


def _declared_ports(runtime: ServingRuntime) -> dict[str, int]:
    name = runtime.metadata.name
    endpoint = runtime.spec.grpc_data_endpoint
    adapter = runtime.spec.built_in_adapter
    # No builtInAdapter: the container serves mmesh.ModelRuntime on grpcEndpoint (and inference there too
    # when there is no grpcDataEndpoint).
    spi = parse_endpoint(runtime.spec.grpc_endpoint).port if adapter is None and runtime.spec.grpc_endpoint else None
    data = (parse_endpoint(endpoint).port if endpoint else None) or spi
    if data is None:
        raise UnsupportedError(
            f"ServingRuntime {name!r}: spec.grpcDataEndpoint must be 'port:N' for the docker launcher"
        )
    management = adapter.runtime_management_port if adapter and adapter.runtime_management_port else spi or data
    return {"data": data, "management": management}


def _container_name(instance_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in instance_id)
    return f"mmemu-{safe}"
