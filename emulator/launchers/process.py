"""Run runtimes as local subprocesses: the embedded default, no Docker needed.

A ServingRuntime's container becomes a local process with the container's env, run by the recipe for its
`builtInAdapter.serverType` (process_recipes.py: `mlserver start`, the Triton and TorchServe containers' own
commands). What a container would get from its image comes from the directory named by the annotation
`modelmesh-emulator/source` (relative to the manifest): it is put on PYTHONPATH and its Dockerfile's ENV
lines are applied first. The emulator then overrides only what must differ on a shared host: declared ports
get free local ports, and paths under `/models` point at the instance's own models directory; each recipe
says what else it overrides.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from pathlib import Path

from ..errors import RuntimeStartError, UnsupportedError
from ..spec import Container, ServingRuntime, parse_endpoint
from .base import RuntimePorts
from .dockerfile_env import dockerfile_env
from .ports import free_port
from .process_group import InstanceProcesses
from .process_reaper import STATE_FILE, reap_leftovers, record_process
from .process_recipes import CONTAINER_MODELS_DIR, RECIPES, LaunchContext, Recipe

__all__ = ["SOURCE_ANNOTATION", "ProcessInstance", "ProcessLauncher", "runtime_container"]

log = logging.getLogger(__name__)

SPI_RECIPE = "mmesh"

SOURCE_ANNOTATION = "modelmesh-emulator/source"


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
                 process: asyncio.subprocess.Process, processes: InstanceProcesses, log_path: Path,
                 stop_grace_s: float):
        self.instance_id = instance_id
        self.runtime_name = runtime_name
        self.models_dir = models_dir
        self.container_models_dir = str(models_dir)
        self.ports = ports
        self.process = process
        self.processes = processes
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
        """Stop the whole process group (the server and its workers), also when the server itself has died and
        left its workers behind. `process.json` is removed only once none of them is left."""
        state_file = self.log_path.parent / STATE_FILE
        if await self.processes.stop(self._stop_grace_s):
            if self.process.returncode is None:
                await self.process.wait()
            state_file.unlink(missing_ok=True)
        else:
            log.warning("runtime %s instance %s: processes %s survived SIGKILL; %s is kept so that the next "
                        "emulator start stops them", self.runtime_name, self.instance_id,
                        self.processes.members(), state_file)


class ProcessLauncher:
    name = "process"

    def __init__(self, *, stop_grace_s: float = 90.0, host: str = "127.0.0.1", triton_env: Path | None = None,
                 reap_dir: Path | None = None):
        """`triton_env`: the Python environment holding nvidia-pytriton (triton_dist.py; default: looked for).
        `reap_dir`: the cache dir; runtime processes left there by emulators that are gone are stopped now."""
        self._stop_grace_s = stop_grace_s
        self._host = host
        self._triton_env = triton_env
        if reap_dir is not None and reap_dir.is_dir():
            reap_leftovers(reap_dir)

    async def start(self, runtime: ServingRuntime, instance_id: str, work_dir: Path) -> ProcessInstance:
        # No builtInAdapter: a runtime speaking mmesh.ModelRuntime itself, run from its container's command.
        server_type = runtime.spec.built_in_adapter.server_type if runtime.spec.built_in_adapter else SPI_RECIPE
        recipe = RECIPES.get(server_type or "")
        if recipe is None:
            raise UnsupportedError(
                f"ServingRuntime {runtime.metadata.name!r}: the process launcher knows builtInAdapter.serverType "
                f"{', '.join(k for k in RECIPES if k != SPI_RECIPE)} (got {server_type!r}); use the docker launcher"
            )
        models_dir = work_dir / "models"
        models_dir.mkdir(parents=True, exist_ok=True)
        container = runtime_container(runtime)
        context = self._context(runtime, container, recipe, models_dir, work_dir)
        launch = recipe.build(context)
        log_path = work_dir / "runtime.log"
        with log_path.open("ab") as log:
            try:
                process = await asyncio.create_subprocess_exec(
                    *launch.argv,
                    cwd=work_dir, env=launch.env, stdout=log, stderr=asyncio.subprocess.STDOUT,
                    stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
                )
            except OSError as exc:
                raise RuntimeStartError(
                    f"ServingRuntime {runtime.metadata.name!r}: cannot start {launch.argv[0]}: {exc}"
                ) from None
        processes = InstanceProcesses.started(process.pid, work_dir)
        try:
            record_process(work_dir, processes, runtime=runtime.metadata.name, instance_id=instance_id)
        except OSError as exc:
            await processes.stop(grace_s=0)  # unrecorded, a process could outlive the emulator unnoticed
            await process.wait()
            raise RuntimeStartError(
                f"ServingRuntime {runtime.metadata.name!r}: cannot record the runtime process in {work_dir}: {exc}"
            ) from None
        data_port = context.host_ports[context.data_port]
        management = (runtime.spec.built_in_adapter.runtime_management_port
                      if runtime.spec.built_in_adapter else _declared_port(runtime.spec.grpc_endpoint))
        ports = RuntimePorts(
            data=f"{self._host}:{data_port}",
            management=f"{self._host}:{context.host_ports[management]}" if management else f"{self._host}:{data_port}",
        )
        return ProcessInstance(
            instance_id=instance_id, runtime_name=runtime.metadata.name, models_dir=models_dir,
            ports=ports, process=process, processes=processes, log_path=log_path, stop_grace_s=self._stop_grace_s,
        )

    def _context(self, runtime: ServingRuntime, container: Container, recipe: Recipe, models_dir: Path,
                 work_dir: Path) -> LaunchContext:
        dropped = ("MMEMU_", *recipe.dropped_host_env)
        env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
        source = _source_dir(runtime)
        if source is not None:
            dockerfile = source / "Dockerfile"
            if dockerfile.is_file():
                env.update(dockerfile_env(dockerfile))
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(source), env.get("PYTHONPATH")) if p)
        for var in container.env:
            if var.value is not None:
                env[var.name] = var.value

        adapter = runtime.spec.built_in_adapter
        management_port = adapter.runtime_management_port if adapter else _declared_port(runtime.spec.grpc_endpoint)
        # Without a data endpoint, ModelMesh sends a custom runtime's inference over the management channel.
        data_port = _declared_port(runtime.spec.grpc_data_endpoint) or (None if adapter else management_port)
        declared = {p for p in (data_port, management_port) if p is not None}
        declared.update(port.container_port for port in container.ports)
        host_ports = {port: free_port(self._host) for port in declared}
        for name, value in env.items():
            if value.isdigit() and int(value) in host_ports:
                env[name] = str(host_ports[int(value)])
            elif value == CONTAINER_MODELS_DIR or value.startswith(CONTAINER_MODELS_DIR + "/"):
                env[name] = str(models_dir) + value[len(CONTAINER_MODELS_DIR):]
        if adapter is None and management_port is None:
            raise UnsupportedError(
                f"ServingRuntime {runtime.metadata.name!r}: spec.grpcEndpoint must be 'port:N' for the process "
                f"launcher (got {runtime.spec.grpc_endpoint!r}); it is where the runtime serves mmesh.ModelRuntime"
            )
        if data_port is None:
            raise UnsupportedError(
                f"ServingRuntime {runtime.metadata.name!r}: spec.grpcDataEndpoint must be 'port:N' "
                "for the process launcher" + ("" if adapter else " (or, without it, spec.grpcEndpoint)")
            )
        return LaunchContext(runtime=runtime, container=container, env=env, host_ports=host_ports,
                             models_dir=models_dir, work_dir=work_dir, host=self._host, data_port=data_port,
                             triton_env=self._triton_env)


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

