"""A ServingRuntime's model server container, as `docker run` arguments: what ModelMesh's controller puts in the
runtime pod (reference §1.3), plus the few overrides that running outside a pod needs.

What the emulator overrides, and why (docs/docker.md repeats this for users):
* `REACHABILITY_ENV[serverType]`: the built-in runtimes bind their servers to 127.0.0.1 (`MLSERVER_HOST`),
  since in a pod only the adapter, in the same network namespace, talks to them. Here the emulator is outside
  the container, so the server must listen on the container's interface: 0.0.0.0.
* Ports: `grpcDataEndpoint` and `builtInAdapter.runtimeManagementPort` (without builtInAdapter: `grpcEndpoint`,
  where the container serves `mmesh.ModelRuntime` itself) are published on 127.0.0.1 with
  random host ports (or, for an emulator in a container, reached on the shared network); nothing else is
  published. The container's own port numbers are unchanged.
* `/models` is a bind mount of the instance's models directory (an emptyDir in the pod).
* An init process (Docker's `--init`) is PID 1, so that the stop signal reaches the server even when the
  image's CMD is in shell form: stopping takes seconds, not the whole grace period.
* A CPU limit above the machine's CPU count is lowered to it (Docker refuses a container asking for more CPUs
  than the machine has; Kubernetes would not schedule such a pod on it either), and one below Docker's
  minimum of 0.01 CPU is raised to it. Both are logged.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ..spec import Container, ServingRuntime, to_millicores
from .downward_api import resource_field_value

__all__ = [
    "CONTAINER_MODELS_DIR", "REACHABILITY_ENV", "container_env", "cpu_limit_nano", "expand_references",
    "run_arguments",
]

log = logging.getLogger(__name__)

CONTAINER_MODELS_DIR = "/models"
REACHABILITY_ENV: dict[str, dict[str, str]] = {
    "mlserver": {"MLSERVER_HOST": "0.0.0.0"},
}
"""Per `builtInAdapter.serverType`: env forced so the server is reachable from outside its container."""

_NANO_PER_MILLICORE = 1_000_000
_DOCKER_MIN_MILLICORES = 10  # Docker: "Range of CPUs is from 0.01 to <host CPUs>"

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_references(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion in command, args and env values: unknown names stay, `$$` is `$`."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(replace, text)


def container_env(runtime: ServingRuntime, container: Container) -> dict[str, str]:
    """The container's literal env and `resourceFieldRef` values (other `valueFrom` entries have no source here),
    expanded in order as Kubernetes does, then the reachability overrides."""
    env: dict[str, str] = {}
    for var in container.env:
        if var.value is not None:
            env[var.name] = expand_references(var.value, env)
        elif var.value_from is not None:
            value = resource_field_value(runtime, var.value_from, container)
            if value is not None:
                env[var.name] = value
    adapter = runtime.spec.built_in_adapter
    env.update(REACHABILITY_ENV.get(adapter.server_type or "", {}) if adapter else {})
    return env


def cpu_limit_nano(runtime_name: str, cpu: str, host_cpus: int | None) -> int:
    """`resources.limits.cpu` as Docker's NanoCpus, within what Docker accepts on a machine of `host_cpus` CPUs."""
    millicores = to_millicores(cpu)
    if host_cpus and millicores > host_cpus * 1000:
        log.warning("ServingRuntime %r: cpu limit %s is more than this machine's %d CPUs, which Docker refuses; "
                    "limiting the container to %d CPUs", runtime_name, cpu, host_cpus, host_cpus)
        millicores = host_cpus * 1000
    elif millicores < _DOCKER_MIN_MILLICORES:
        log.warning("ServingRuntime %r: cpu limit %s is below Docker's minimum of 0.01 CPU; limiting the container "
                    "to 0.01 CPU", runtime_name, cpu)
        millicores = _DOCKER_MIN_MILLICORES
    return millicores * _NANO_PER_MILLICORE


def run_arguments(runtime: ServingRuntime, container: Container, *, image: str,
                  host_cpus: int | None = None) -> dict[str, Any]:
    """`docker.containers.run` keyword arguments for the image, command, env, working dir and resources
    (`host_cpus`: the daemon's machine's CPU count, the most a CPU limit can be)."""
    env = container_env(runtime, container)
    arguments: dict[str, Any] = {"image": image, "environment": env, "cap_drop": ["ALL"], "init": True}
    # Kubernetes: `command` replaces the image's ENTRYPOINT (and drops its CMD), `args` replaces CMD.
    if container.command:
        arguments["entrypoint"] = [expand_references(word, env) for word in container.command]
    if container.args:
        arguments["command"] = [expand_references(word, env) for word in container.args]
    if container.working_dir:
        arguments["working_dir"] = container.working_dir
    limits = container.resources.limits
    if container.memory_limit_bytes is not None:
        arguments["mem_limit"] = container.memory_limit_bytes
        arguments["memswap_limit"] = container.memory_limit_bytes  # no swap, as in a pod
    if "cpu" in limits:
        arguments["nano_cpus"] = cpu_limit_nano(runtime.metadata.name, str(limits["cpu"]), host_cpus)
    if container.cpu_request_millicores:
        arguments["cpu_shares"] = max(2, container.cpu_request_millicores * 1024 // 1000)
    return arguments
