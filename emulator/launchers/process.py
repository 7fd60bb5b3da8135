"""Run MLServer-based runtimes as local subprocesses: the embedded default, no Docker needed.

A ServingRuntime's container becomes an `mlserver start` process with the container's env. What a
container would get from its image comes from the directory named by the annotation
`modelmesh-emulator/source` (relative to the manifest): it is put on PYTHONPATH and its Dockerfile's
ENV lines are applied first. The emulator then overrides only what must differ on a shared host:
declared ports (and MLServer's HTTP and metrics ports) get free local ports, and paths under `/models`
point at the instance's own models directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import deque
from pathlib import Path

from ..errors import RuntimeStartError, UnsupportedError
from ..spec import Container, ServingRuntime, parse_endpoint
from .base import RuntimePorts
from .dockerfile_env import dockerfile_env
from .ports import free_port

__all__ = ["SOURCE_ANNOTATION", "ProcessInstance", "ProcessLauncher", "runtime_container"]

SOURCE_ANNOTATION = "modelmesh-emulator/source"
CONTAINER_MODELS_DIR = "/models"
_MLSERVER_EXTRA_PORTS = ("MLSERVER_HTTP_PORT", "MLSERVER_METRICS_PORT")


def runtime_container(runtime: ServingRuntime) -> Container:
    """The model server container: the one named like the built-in adapter's serverType, else the first."""
    adapter = runtime.spec.built_in_adapter
    if adapter is not None and adapter.server_type:
        for container in runtime.spec.containers:
            if container.name == adapter.server_type:
                return container
    return runtime.spec.containers[0]


class ProcessInstance:
    def __init__(self, *, instance_id: str, runtime_name: str, models_dir: Path, ports: RuntimePorts,
                 process: asyncio.subprocess.Process, log_path: Path, stop_grace_s: float):
        self.instance_id = instance_id
        self.runtime_name = runtime_name
        self.models_dir = models_dir
        self.container_models_dir = str(models_dir)
        self.ports = ports
        self.process = process
        self.log_path = log_path
        self._stop_grace_s = stop_grace_s

    def is_running(self) -> bool:
        return self.process.returncode is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            with self.log_path.open(errors="replace") as log:
                return "".join(deque(log, maxlen=lines))
        except OSError:
            return ""

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), self._stop_grace_s)
        except TimeoutError:
            self._signal_group(signal.SIGKILL)
            await self.process.wait()
        # MLServer's worker processes share the group; make sure none outlives its parent.
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


class ProcessLauncher:
    name = "process"

    def __init__(self, *, stop_grace_s: float = 90.0, host: str = "127.0.0.1"):
        self._stop_grace_s = stop_grace_s
        self._host = host

    async def start(self, runtime: ServingRuntime, instance_id: str, work_dir: Path) -> ProcessInstance:
        server_type = runtime.spec.built_in_adapter.server_type if runtime.spec.built_in_adapter else None
        if server_type != "mlserver":
            raise UnsupportedError(
                f"ServingRuntime {runtime.metadata.name!r}: the process launcher runs MLServer runtimes only "
                f"(builtInAdapter.serverType: mlserver, got {server_type!r}); use the docker launcher"
            )
        models_dir = work_dir / "models"
        models_dir.mkdir(parents=True, exist_ok=True)
        container = runtime_container(runtime)
        env, ports = self._environment(runtime, container, models_dir)
        models_root = env.setdefault("MLSERVER_MODELS_DIR", str(models_dir / "_mlserver_models"))
        Path(models_root).mkdir(parents=True, exist_ok=True)
        log_path = work_dir / "runtime.log"
        with log_path.open("ab") as log:
            try:
                process = await asyncio.create_subprocess_exec(
                    *_mlserver_command(), "start", models_root,
                    cwd=work_dir, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
                    stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
                )
            except OSError as exc:
                raise RuntimeStartError(
                    f"ServingRuntime {runtime.metadata.name!r}: cannot start MLServer: {exc}"
                ) from None
        return ProcessInstance(
            instance_id=instance_id, runtime_name=runtime.metadata.name, models_dir=models_dir,
            ports=ports, process=process, log_path=log_path, stop_grace_s=self._stop_grace_s,
        )

    def _environment(self, runtime: ServingRuntime, container: Container,
                     models_dir: Path) -> tuple[dict[str, str], RuntimePorts]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLSERVER_", "MMEMU_"))}
        source = _source_dir(runtime)
        if source is not None:
            dockerfile = source / "Dockerfile"
            if dockerfile.is_file():
                env.update(dockerfile_env(dockerfile))
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(source), env.get("PYTHONPATH")) if p)
        for var in container.env:
            if var.value is not None:
                env[var.name] = var.value

        data_port = _declared_port(runtime.spec.grpc_data_endpoint)
        adapter = runtime.spec.built_in_adapter
        management_port = adapter.runtime_management_port if adapter else None
        declared = {p for p in (data_port, management_port) if p is not None}
        declared.update(port.container_port for port in container.ports)
        host_ports = {port: free_port(self._host) for port in declared}
        for name, value in env.items():
            if value.isdigit() and int(value) in host_ports:
                env[name] = str(host_ports[int(value)])
            elif value == CONTAINER_MODELS_DIR or value.startswith(CONTAINER_MODELS_DIR + "/"):
                env[name] = str(models_dir) + value[len(CONTAINER_MODELS_DIR):]
        for name in _MLSERVER_EXTRA_PORTS:
            env[name] = str(free_port(self._host))
        if data_port is None:
            raise UnsupportedError(
                f"ServingRuntime {runtime.metadata.name!r}: spec.grpcDataEndpoint must be 'port:N' "
                "for the process launcher"
            )
        data = f"{self._host}:{host_ports[data_port]}"
        management = f"{self._host}:{host_ports[management_port]}" if management_port else data
        return env, RuntimePorts(data=data, management=management)


def _declared_port(endpoint: str | None) -> int | None:
    if not endpoint:
        return None
    return parse_endpoint(endpoint).port


def _source_dir(runtime: ServingRuntime) -> Path | None:
    value = runtime.metadata.annotations.get(SOURCE_ANNOTATION)
    if not value:
        return None
    base = Path(runtime.source).parent if runtime.source else Path.cwd()
    source = (base / value).resolve()
    if not source.is_dir():
        raise UnsupportedError(
            f"ServingRuntime {runtime.metadata.name!r}: annotation {SOURCE_ANNOTATION}={value!r} "
            f"is not a directory ({source})"
        )
    return source


def _mlserver_command() -> list[str]:
    script = Path(sys.executable).with_name("mlserver")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from mlserver.cli import main; sys.exit(main())"]
