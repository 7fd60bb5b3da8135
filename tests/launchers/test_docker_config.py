"""The docker launcher's pure parts, no daemon needed: container arguments from a ServingRuntime, host paths
seen from a container, image resolution, owner liveness and the restart back-off."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from emulator.errors import RuntimeStartError
from emulator.launchers.backoff import BackoffLauncher
from emulator.launchers.base import RuntimePorts
from emulator.launchers.docker_config import container_env, cpu_limit_nano, expand_references, run_arguments
from emulator.launchers.docker_labels import owner_alive
from emulator.launchers.docker_site import DockerSite, process_owner
from emulator.launchers.images import ImageResolver
from emulator.spec import ServingRuntime, load_paths, load_text

ROOT = Path(__file__).resolve().parents[2]

RUNTIME = """
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: triton-like
spec:
  supportedModelFormats: [{name: onnx, version: "1", autoSelect: true}]
  multiModel: true
  grpcDataEndpoint: "port:8001"
  containers:
    - name: triton
      image: example/server:1
      command: [/bin/sh]
      args: ["-c", "exec server --port=$(PORT) --dir=$(DIR) --price=$$5 --keep=$(UNSET)"]
      workingDir: /work
      env:
        - {name: PORT, value: "8001"}
        - {name: DIR, value: "/models/$(PORT)"}
        - name: FROM_SECRET
          valueFrom: {secretKeyRef: {name: s, key: k}}
      resources:
        requests: {cpu: 500m, memory: 1Gi}
        limits: {cpu: "1.5", memory: 2Gi}
  builtInAdapter: {serverType: triton, runtimeManagementPort: 8001}
"""


def _runtime(text: str = RUNTIME) -> ServingRuntime:
    (runtime,) = load_text(text)
    assert isinstance(runtime, ServingRuntime)
    return runtime


def test_the_mlserver_manifest_keeps_its_env_but_listens_on_every_interface() -> None:
    runtime = next(m for m in load_paths([ROOT / "runtimes" / "mlserver-1.x.yaml"]) if isinstance(m, ServingRuntime))

    env = container_env(runtime, runtime.spec.containers[0])

    assert env["MLSERVER_HOST"] == "0.0.0.0"
    assert env["MLSERVER_GRPC_PORT"] == "8001"
    assert env["MLSERVER_MODELS_DIR"] == "/models/_mlserver_models/"


def test_command_args_env_and_resources_follow_kubernetes() -> None:
    runtime = _runtime()

    arguments = run_arguments(runtime, runtime.spec.containers[0], image="local/server:1")

    assert arguments["image"] == "local/server:1"
    assert arguments["entrypoint"] == ["/bin/sh"]
    assert arguments["command"] == ["-c", "exec server --port=8001 --dir=/models/8001 --price=$5 --keep=$(UNSET)"]
    assert arguments["environment"] == {"PORT": "8001", "DIR": "/models/8001"}
    assert arguments["working_dir"] == "/work"
    assert arguments["mem_limit"] == arguments["memswap_limit"] == 2 * 1024**3
    assert arguments["nano_cpus"] == 1_500_000_000
    assert arguments["cpu_shares"] == 512
    assert arguments["cap_drop"] == ["ALL"]
    assert arguments["init"] is True


def test_a_cpu_limit_above_the_machines_cpus_is_lowered_to_them_and_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    runtime = _runtime(RUNTIME.replace('limits: {cpu: "1.5"', 'limits: {cpu: "5"'))

    arguments = run_arguments(runtime, runtime.spec.containers[0], image="x", host_cpus=2)

    assert arguments["nano_cpus"] == 2_000_000_000
    assert "'triton-like': cpu limit 5 is more than this machine's 2 CPUs" in caplog.text


@pytest.mark.parametrize(("cpu", "host_cpus", "nano"), [
    ("1.5", 2, 1_500_000_000), ("2", 2, 2_000_000_000), ("3", 2, 2_000_000_000), ("1m", 2, 10_000_000),
    ("500m", None, 500_000_000),
])
def test_cpu_limits_stay_within_what_docker_accepts(cpu: str, host_cpus: int | None, nano: int) -> None:
    assert cpu_limit_nano("rt", cpu, host_cpus) == nano


def test_no_command_keeps_the_images_entrypoint_and_cmd() -> None:
    runtime = _runtime(RUNTIME.replace("      command: [/bin/sh]\n", "").replace(
        '      args: ["-c", "exec server --port=$(PORT) --dir=$(DIR) --price=$$5 --keep=$(UNSET)"]\n', ""))

    arguments = run_arguments(runtime, runtime.spec.containers[0], image="x")

    assert "entrypoint" not in arguments and "command" not in arguments


def test_references_expand_only_known_names() -> None:
    assert expand_references("$(A)-$(B)-$$(A)-$", {"A": "1"}) == "1-$(B)-$(A)-$"


def test_host_paths_of_an_emulator_in_a_container_go_through_its_mounts() -> None:
    site = DockerSite(owner="container:x:y", container_id="c" * 64, network="project_default", mounts=(
        ("/var/lib/modelmesh-emulator", "/var/lib/docker/volumes/project_cache/_data"),
        ("/var/lib", "/srv/lib"),
    ))

    assert site.host_path(Path("/var/lib/modelmesh-emulator/run-1/models")) == \
        "/var/lib/docker/volumes/project_cache/_data/run-1/models"
    assert site.host_path(Path("/var/lib/other")) == "/srv/lib/other"
    with pytest.raises(RuntimeStartError, match="no volume or bind mount"):
        site.host_path(Path("/tmp/cache"))
    assert DockerSite(owner="process:x").host_path(Path("/tmp/cache")) == "/tmp/cache"


class _Images:
    def __init__(self, present: set[str], pull_error: str | None = None):
        self.present, self.pull_error, self.pulled = present, pull_error, []

    def get(self, image: str) -> object:
        if image not in self.present:
            raise docker.errors.ImageNotFound(image)
        return object()

    def pull(self, repository: str, tag: str) -> None:
        if self.pull_error:
            raise docker.errors.APIError(self.pull_error)
        self.pulled.append(f"{repository}:{tag}")


class _Client:
    def __init__(self, images: _Images):
        self.images = images


OVERRIDES = {"seldonio/mlserver:1.3.2": "modelmesh-emulator/mlserver:1.7.1"}


@pytest.mark.parametrize(("present", "expected"), [
    ({"modelmesh-emulator/mlserver:1.7.1", "seldonio/mlserver:1.3.2"}, "modelmesh-emulator/mlserver:1.7.1"),
    ({"seldonio/mlserver:1.3.2"}, "seldonio/mlserver:1.3.2"),
])
def test_an_override_is_used_when_present_else_the_image_itself(present: set[str], expected: str) -> None:
    resolver = ImageResolver(_Client(_Images(present)), OVERRIDES)  # type: ignore[arg-type]

    assert resolver.resolve("mlserver-1.x", "seldonio/mlserver:1.3.2") == expected


def test_an_overridden_image_missing_everywhere_is_not_pulled_and_says_how_to_build_it() -> None:
    images = _Images(set())
    resolver = ImageResolver(_Client(images), OVERRIDES)  # type: ignore[arg-type]

    with pytest.raises(RuntimeStartError) as failure:
        resolver.resolve("mlserver-1.x", "seldonio/mlserver:1.3.2")

    assert images.pulled == []
    assert "scripts/build-images.sh mlserver" in failure.value.message
    assert "MMEMU_IMAGE_OVERRIDES" in failure.value.message


def test_other_images_are_pulled_and_a_failed_pull_names_the_image() -> None:
    images = _Images(set())
    ImageResolver(_Client(images), {}).resolve("rt", "example/server")  # type: ignore[arg-type]
    assert images.pulled == ["example/server:latest"]

    failing = ImageResolver(_Client(_Images(set(), pull_error="no registry")), {})  # type: ignore[arg-type]
    with pytest.raises(RuntimeStartError, match=r"'example/server:2' is not present .* cannot be pulled"):
        failing.resolve("rt", "example/server:2")


def test_a_process_owner_is_alive_while_its_process_runs() -> None:
    me = process_owner()
    boot, namespace, pid, start = me.split(":")[1:]

    assert owner_alive(None, me)  # type: ignore[arg-type]
    assert not owner_alive(None, f"process:{boot}:{namespace}:{pid}:{int(start) + 1}")  # type: ignore[arg-type]
    assert not owner_alive(None, f"process:other-boot:{namespace}:{pid}:{start}")  # type: ignore[arg-type]
    assert owner_alive(None, f"process:{boot}:other-namespace:1:1")  # type: ignore[arg-type]
    assert os.getpid() == int(pid)


class _Instance:
    def __init__(self, instance_id: str):
        self.instance_id, self.runtime_name, self.running = instance_id, "rt", True
        self.models_dir, self.container_models_dir = Path("/tmp"), "/models"
        self.ports = RuntimePorts("a", "b")

    def is_running(self) -> bool:
        return self.running

    def log_tail(self, lines: int = 40) -> str:
        return ""

    async def stop(self) -> None:
        self.running = False


class _Launcher:
    name = "fake"

    def __init__(self) -> None:
        self.started: list[_Instance] = []

    async def start(self, runtime: ServingRuntime, instance_id: str, work_dir: Path) -> Any:
        self.started.append(_Instance(instance_id))
        return self.started[-1]


async def test_a_crash_looping_runtime_is_restarted_after_growing_delays() -> None:
    inner = _Launcher()
    launcher = BackoffLauncher(inner, initial_s=0.01, max_s=0.03)
    runtime = _runtime()
    delays = []
    for attempt in range(5):
        delays.append(launcher.delay_s("triton-like"))
        instance = await launcher.start(runtime, f"i{attempt}", Path("/tmp"))
        inner.started[-1].running = False  # it crashes
        await instance.stop()

    assert delays == [0.0, 0.0, 0.01, 0.02, 0.03]
    assert instance.instance_id == "i4"

    healthy = await launcher.start(runtime, "ok", Path("/tmp"))
    await healthy.stop()  # stopped while running: not a crash, the count starts again
    assert launcher.delay_s("triton-like") == 0.0
