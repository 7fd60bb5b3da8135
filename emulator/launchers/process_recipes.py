"""How the process launcher runs each `builtInAdapter.serverType`: a recipe turns the runtime container
(its env already remapped by process.py) into a command line and the few overrides a shared host needs.

What each recipe overrides, beyond process.py's port and `/models` remapping (docs/runtimes.md repeats this):
* mlserver: `mlserver start $MLSERVER_MODELS_DIR`, as the image's CMD; MLServer's HTTP and metrics ports get
  free ports, and `MLSERVER_HOST` (the one address of its HTTP, gRPC and metrics servers) is the emulator's
  host, 127.0.0.1, whatever the manifest says: ports are remapped, the address must be too.
* triton: the container's own `command`/`args` (upstream: `/bin/sh -c 'mkdir -p /models/_triton_models; ...
  exec tritonserver "--model-repository=/models/_triton_models" ...'`) with `/models` remapped. The
  `tritonserver` it execs is a wrapper (first on PATH) that adds what the image has built in or what would
  clash on a shared host: `--backend-directory`, and the gRPC/HTTP/metrics ports and addresses.
* torchserve: the container's `args` through the image's entrypoint (`eval "$@"`), so the upstream
  `while [ ! -e "$TS_CONFIG_FILE" ] ...; exec torchserve --start --foreground` runs unchanged. Ports and
  addresses (127.0.0.1, gRPC's included) are moved with TorchServe's own `TS_*` variables, honoured because the
  adapter's config file says `enable_envvars_config=true`; `TMPDIR`/`TEMP` are per instance (TorchServe keeps a
  pid file and its worker sockets there); and TorchServe >= 0.11's token authorization and model-API switch are
  turned off and on, as the 0.7.1 image the manifest names behaves.
* ovms: no OpenVINO Model Server package exists outside its image: the emulator's stand-in
  (emulator/launchers/ovms_standin: the openvino runtime behind OVMS's APIs) runs with the container's `args`,
  its gRPC/REST ports and bind addresses moved.
* mmesh (no `builtInAdapter`: the container speaks `mmesh.ModelRuntime` itself): the container's own
  `command`/`args`, in any language, with `/models` and declared ports remapped in the arguments as in the env;
  the emulator's Python comes first on PATH (so `python` has grpcio), and env `valueFrom.resourceFieldRef`
  (`requests.memory`, `limits.memory`, `requests.cpu`, `limits.cpu`) gets its value as the downward API gives it.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import RuntimeStartError, UnsupportedError
from ..spec import Container, ServingRuntime
from .downward_api import resource_field_value
from .ports import free_port
from .triton_dist import find_triton, prepare_triton_wrapper
from .upstream_images import kustomize_image

__all__ = [
    "RECIPES",
    "Launch",
    "LaunchContext",
    "Recipe",
    "remap_models_paths",
    "remap_port_word",
]

CONTAINER_MODELS_DIR = "/models"
_MLSERVER_EXTRA_PORTS = ("MLSERVER_HTTP_PORT", "MLSERVER_METRICS_PORT")
_TRITON_HTTP_PORT, _TRITON_METRICS_PORT = 8000, 8002
_TS_PORT_ENV = {"TS_GRPC_INFERENCE_PORT": 7070, "TS_GRPC_MANAGEMENT_PORT": 7071}
_TS_ADDRESS_ENV = ("TS_INFERENCE_ADDRESS", "TS_MANAGEMENT_ADDRESS", "TS_METRICS_ADDRESS")
_TS_GRPC_ADDRESS_ENV = ("TS_GRPC_INFERENCE_ADDRESS", "TS_GRPC_MANAGEMENT_ADDRESS")


@dataclass
class LaunchContext:
    runtime: ServingRuntime
    container: Container
    env: dict[str, str]
    """The process environment so far: host env, image env, container env, ports and `/models` remapped."""
    host_ports: dict[int, int]
    """Declared container port → the free local port standing in for it."""
    models_dir: Path
    work_dir: Path
    host: str
    data_port: int
    """The declared `grpcDataEndpoint` port (`host_ports` has its stand-in)."""
    triton_env: Path | None = None


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Recipe:
    build: Callable[[LaunchContext], Launch]
    dropped_host_env: tuple[str, ...] = ()
    """Host environment variables with these prefixes are not inherited (they would configure the server)."""


def remap_models_paths(text: str, models_dir: Path) -> str:
    """`/models` as a path (not `/modelsx`, not `a/models`) → the instance's models directory."""
    result, start = [], 0
    while (found := text.find(CONTAINER_MODELS_DIR, start)) >= 0:
        end = found + len(CONTAINER_MODELS_DIR)
        before = text[found - 1] if found else ""
        after = text[end] if end < len(text) else ""
        is_path = not (before.isalnum() or before in "._-/") and not (after.isalnum() or after in "._-")
        result.append(text[start:found] + (str(models_dir) if is_path else CONTAINER_MODELS_DIR))
        start = end
    result.append(text[start:])
    return "".join(result)


def _container_argv(ctx: LaunchContext) -> list[str]:
    words = [*ctx.container.command, *ctx.container.args]
    return [remap_models_paths(word, ctx.models_dir) for word in words]


def _mlserver(ctx: LaunchContext) -> Launch:
    env = ctx.env
    for name in _MLSERVER_EXTRA_PORTS:
        env[name] = str(free_port(ctx.host))
    env["MLSERVER_HOST"] = ctx.host
    models_root = env.setdefault("MLSERVER_MODELS_DIR", str(ctx.models_dir / "_mlserver_models"))
    Path(models_root).mkdir(parents=True, exist_ok=True)
    return Launch([*_mlserver_command(), "start", models_root], env)


def _mlserver_command() -> list[str]:
    script = Path(sys.executable).with_name("mlserver")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from mlserver.cli import main; sys.exit(main())"]


def _triton(ctx: LaunchContext) -> Launch:
    name = ctx.runtime.metadata.name
    if not ctx.container.command and not ctx.container.args:
        raise UnsupportedError(f"ServingRuntime {name!r}: container {ctx.container.name!r} has no command or args; "
                               "the process launcher runs what the container would run")
    dist = find_triton(ctx.triton_env, runtime_name=name)
    flags = {
        "--grpc-port": ctx.host_ports[ctx.data_port],
        "--http-port": ctx.host_ports.get(_TRITON_HTTP_PORT) or free_port(ctx.host),
        "--metrics-port": ctx.host_ports.get(_TRITON_METRICS_PORT) or free_port(ctx.host),
        "--grpc-address": ctx.host, "--http-address": ctx.host, "--metrics-address": ctx.host,
    }
    bin_dir = prepare_triton_wrapper(dist, ctx.work_dir, [f"{flag}={value}" for flag, value in flags.items()])
    env = ctx.env
    env["PATH"] = _path_list(bin_dir, dist.python.parent, env.get("PATH"))
    env["LD_LIBRARY_PATH"] = _path_list(dist.libs, dist.python_libdir, env.get("LD_LIBRARY_PATH"))
    return Launch(_container_argv(ctx), env)


def _torchserve(ctx: LaunchContext) -> Launch:
    name = ctx.runtime.metadata.name
    bin_dir = Path(sys.executable).parent
    if shutil.which("torchserve", path=_path_list(bin_dir, ctx.env.get("PATH"))) is None:
        raise RuntimeStartError(
            f"ServingRuntime {name!r}: TorchServe is not installed in the emulator's environment "
            f"({sys.prefix}); install it with `pip install torchserve torch-model-archiver torch==2.13.0` "
            "(part of `make test`'s .[test]), or use the docker launcher"
        )
    java_home = ctx.env.get("JAVA_HOME")
    if shutil.which("java", path=_path_list(f"{java_home}/bin" if java_home else None, ctx.env.get("PATH"))) is None:
        raise RuntimeStartError(f"ServingRuntime {name!r}: TorchServe needs Java (java on PATH or JAVA_HOME)")
    env = ctx.env
    env["PATH"] = _path_list(bin_dir, env.get("PATH"))
    temp = ctx.work_dir / "tmp"
    temp.mkdir(parents=True, exist_ok=True)
    env["TMPDIR"] = env["TEMP"] = str(temp)
    for variable, port in _TS_PORT_ENV.items():
        env[variable] = str(ctx.host_ports.get(port) or free_port(ctx.host))
    for variable in _TS_ADDRESS_ENV:
        env[variable] = f"http://{ctx.host}:{free_port(ctx.host)}"
    for variable in _TS_GRPC_ADDRESS_ENV:
        env[variable] = ctx.host
    env["TS_DISABLE_TOKEN_AUTHORIZATION"] = "true"
    env["TS_ENABLE_MODEL_API"] = "true"
    if ctx.container.command:
        return Launch(_container_argv(ctx), env)
    # The image's ENTRYPOINT (dockerd-entrypoint.sh) evals its arguments; without any it serves in the background.
    args = _container_argv(ctx) or ["torchserve", "--start", "--foreground"]
    return Launch([shutil.which("bash") or "/bin/sh", "-c", 'eval "$@"', "dockerd-entrypoint.sh", *args], env)


def _ovms(ctx: LaunchContext) -> Launch:
    if importlib.util.find_spec("openvino") is None:
        raise RuntimeStartError(
            f"ServingRuntime {ctx.runtime.metadata.name!r}: OpenVINO Model Server runs from its image "
            f"{kustomize_image(ctx.container.image or '') or '(none)'!r} (docker launcher), or here as the "
            f"emulator's stand-in, which needs the openvino package in the emulator's environment ({sys.prefix}): "
            "`pip install openvino`"
        )
    rest_port = ctx.runtime.spec.built_in_adapter.runtime_management_port if ctx.runtime.spec.built_in_adapter else None
    overrides = [f"--port={ctx.host_ports[ctx.data_port]}", f"--grpc_bind_address={ctx.host}",
                 f"--rest_bind_address={ctx.host}"]
    if rest_port:
        overrides.append(f"--rest_port={ctx.host_ports[rest_port]}")
    argv = [sys.executable, "-m", "emulator.launchers.ovms_standin", *_container_argv(ctx), *overrides]
    return Launch(argv, ctx.env)


def _mmesh(ctx: LaunchContext) -> Launch:
    name = ctx.runtime.metadata.name
    if not ctx.container.command and not ctx.container.args:
        raise UnsupportedError(
            f"ServingRuntime {name!r}: container {ctx.container.name!r} has no command or args; the process "
            "launcher runs the container's own command (an image's ENTRYPOINT/CMD is not known without Docker)"
        )
    env = ctx.env
    for var in ctx.container.env:
        if var.value is None and var.value_from is not None:
            value = resource_field_value(ctx.runtime, var.value_from, ctx.container)
            if value is not None:
                env[var.name] = value
    env["PATH"] = _path_list(Path(sys.executable).parent, env.get("PATH"))
    argv = [remap_port_word(word, ctx.host_ports) for word in _container_argv(ctx)]
    return Launch(argv, env)


def remap_port_word(word: str, host_ports: dict[int, int]) -> str:
    """`8085`, `--port=8085` or `host:8085` naming a declared port → its stand-in."""
    head, separator, tail = word.rpartition("=") if "=" in word else word.rpartition(":")
    if tail.isdigit() and int(tail) in host_ports:
        return f"{head}{separator}{host_ports[int(tail)]}"
    return word


def _path_list(*entries: Path | str | None) -> str:
    return ":".join(str(entry) for entry in entries if entry)


RECIPES: dict[str, Recipe] = {
    "mlserver": Recipe(_mlserver, ("MLSERVER_",)),
    "triton": Recipe(_triton),
    "torchserve": Recipe(_torchserve, ("TS_",)),
    "ovms": Recipe(_ovms),
    "mmesh": Recipe(_mmesh),
}
"""One per `builtInAdapter.serverType` the process launcher knows, and `mmesh` for runtimes without one."""
