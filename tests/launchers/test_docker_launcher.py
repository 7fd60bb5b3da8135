"""The docker launcher with real containers: the runtime container as the manifest says, inference through the
router, a killed container detected and replaced, and no container outliving its emulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import grpc
import httpx
import pytest

from emulator.launchers.docker_labels import LABEL_INSTANCE, LABEL_OWNER, LABEL_RUNTIME, LABEL_SESSION
from emulator.launchers.docker_site import boot_id, pid_namespace
from emulator.launchers.ports import free_port
from emulator.placement.runtime_pool import RuntimeHandle
from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.docker_support import RUNTIME_IMAGES, docker_client_or_skip, require_images, session_containers
from tests.v2_client import expected_outputs, grpc_infer, grpc_request, rest_request

pytestmark = [pytest.mark.docker, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
SKLEARN = "example-sklearn-mnist-svm"
CUSTOM = "example-custom-mnist"
GIB = 1024**3


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    client = docker_client_or_skip()
    require_images(client, RUNTIME_IMAGES)
    yield client
    client.close()


@pytest.fixture(scope="module")
def docker_settings(client: docker.DockerClient, make_settings: Callable[..., Settings],
                    sample_s3_root: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        return make_settings(launcher="docker", local_s3_root=sample_s3_root, **overrides)

    return make


@pytest.fixture(scope="module")
def served(docker_settings: Callable[..., Settings]) -> Iterator[EmulatorThread]:
    with EmulatorThread(docker_settings()) as emu:
        lines = emu.apply_paths([ROOT / "runtimes", ROOT / "sample_models"])
        assert not [line for line in lines if line.startswith("error")], lines
        yield emu


def _handle(emu: EmulatorThread, runtime: str) -> RuntimeHandle:
    def find() -> RuntimeHandle | None:
        return next((h for h in emu.emulator.pool.handles() if h.runtime.metadata.name == runtime), None)

    deadline = time.monotonic() + 120
    while (handle := emu.call(find)) is None:
        assert time.monotonic() < deadline, f"runtime {runtime} never started"
        time.sleep(0.2)
    return handle


def _predict(emu: EmulatorThread, isvc: str) -> list[int]:
    response = grpc_infer(emu.grpc_address, grpc_request(isvc))
    return list(next(o for o in response.outputs if o.name == "predict").contents.int64_contents)


def test_runtime_container_has_the_manifests_env_memory_limit_and_labels(served: EmulatorThread,
                                                                          client: docker.DockerClient) -> None:
    _predict(served, SKLEARN)
    handle = _handle(served, "mlserver-1.x")
    attrs = client.containers.get(handle.instance.container_id).attrs

    env = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
    assert env["MLSERVER_MODELS_DIR"] == "/models/_mlserver_models/"
    assert env["MLSERVER_GRPC_PORT"] == "8001"
    assert env["MLSERVER_HTTP_PORT"] == "8002"
    assert env["MLSERVER_LOAD_MODELS_AT_STARTUP"] == "false"
    assert env["MLSERVER_MODEL_NAME"] == "dummy-model-fixme"
    assert env["MLSERVER_GRPC_MAX_MESSAGE_LENGTH"] == "-1"
    assert env["MLSERVER_HOST"] == "0.0.0.0", "overridden: the manifest's 127.0.0.1 is unreachable from outside"
    assert attrs["Config"]["Image"] == "modelmesh-emulator/mlserver:1.7.1"  # image_overrides for seldonio/mlserver
    host_config = attrs["HostConfig"]
    assert host_config["Memory"] == 1 * GIB
    assert host_config["NanoCpus"] == min(5, client.info()["NCPU"]) * 10**9, "limits.cpu 5, at most the host's CPUs"
    assert host_config["CapDrop"] == ["ALL"]
    labels = attrs["Config"]["Labels"]
    assert labels[LABEL_RUNTIME] == "mlserver-1.x"
    assert labels[LABEL_INSTANCE] == handle.instance.instance_id
    assert labels[LABEL_SESSION] and labels[LABEL_OWNER].startswith("process:")
    assert labels["name"] == "modelmesh-serving-mlserver-1.x"
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert mounts["/models"]["Source"] == str(handle.instance.models_dir)
    bindings = host_config["PortBindings"]
    assert list(bindings) == ["8001/tcp"]
    assert bindings["8001/tcp"][0]["HostIp"] == "127.0.0.1"
    assert handle.instance.ports.data.startswith("127.0.0.1:")


@pytest.mark.parametrize("isvc", [SKLEARN, CUSTOM])
def test_inference_through_the_router_on_both_transports(served: EmulatorThread, isvc: str) -> None:
    response = grpc_infer(served.grpc_address, grpc_request(isvc))
    reply = httpx.post(f"{served.rest_url}/v2/models/{isvc}/infer", json=rest_request(isvc), timeout=120)

    assert response.model_name.startswith(f"{isvc}__isvc-")
    assert reply.status_code == 200, reply.text
    by_name = {output["name"]: output for output in reply.json()["outputs"]}
    for expected in expected_outputs(isvc):
        assert by_name[expected["name"]]["data"] == pytest.approx(expected["data"])
    assert _predict(served, isvc) == expected_outputs(isvc)[0]["data"]


def test_a_killed_runtime_container_is_detected_and_replaced(served: EmulatorThread,
                                                             client: docker.DockerClient) -> None:
    assert _predict(served, SKLEARN) == [8]
    handle = _handle(served, "mlserver-1.x")
    old_id = handle.instance.container_id

    client.containers.get(old_id).kill()
    deadline = time.monotonic() + 10
    while handle.instance.is_running():
        assert time.monotonic() < deadline, "the kill was not noticed"
        time.sleep(0.05)

    assert _predict(served, SKLEARN) == [8]
    new = _handle(served, "mlserver-1.x")
    assert new.instance.container_id != old_id
    assert client.containers.get(new.instance.container_id).status == "running"
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(old_id)


def test_stopping_the_emulator_removes_every_container_it_started(docker_settings: Callable[..., Settings],
                                                                 client: docker.DockerClient) -> None:
    with EmulatorThread(docker_settings()) as emu:
        emu.apply_paths([ROOT / "runtimes", ROOT / "sample_models"])
        assert _predict(emu, SKLEARN) == [8]
        assert _predict(emu, CUSTOM) == [8]
        session = _handle(emu, "mlserver-1.x").instance.container.labels[LABEL_SESSION]
        started = {name.rsplit("-", 1)[0] for name in session_containers(client, session)}
        # mmesh-example-0.x's container may still be starting for the model loaded on apply: removed all the same
        assert started >= {"mmemu-mlserver-1.x", "mmemu-custom-mnist-0.x"}

    assert session_containers(client, session) == []


def test_a_new_emulator_removes_the_containers_of_a_killed_one(tmp_path: Path, sample_s3_root: Path,
                                                              client: docker.DockerClient) -> None:
    env = {**os.environ, "MMEMU_LOCAL_S3_ROOT": str(sample_s3_root), "MMEMU_LAUNCHER": "docker",
           "MMEMU_CACHE_DIR": str(tmp_path / "cache"), "MMEMU_METRICS_PORT": str(free_port()),
           "MMEMU_WATCH": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "serve", str(ROOT / "runtimes" / "mlserver-1.x.yaml"),
         str(ROOT / "sample_models" / "sklearn-mnist-svm.yaml"), "--grpc-port", str(free_port()),
         "--rest-port", str(free_port()), "--api-port", str(free_port())],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (leftovers := _containers_of_pid(client, process.pid)):
            assert process.poll() is None, "the emulator exited"
            assert time.monotonic() < deadline, "the emulator started no runtime container"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert leftovers

    with EmulatorThread(Settings(launcher="docker", grpc_port=free_port(), rest_port=free_port(),
                                 metrics_port=free_port(), api_port=free_port(), cache_dir=tmp_path / "cache2")):
        assert _containers_of_pid(client, process.pid) == []


def _broken_runtime_and_isvc(shell: str) -> str:
    """mlserver-1.x renamed broken-1.x, its container running `sh -c SHELL`, and the sklearn isvc on it."""
    command = f'      command: ["sh", "-c", "{shell}"]\n'
    runtime = (ROOT / "runtimes" / "mlserver-1.x.yaml").read_text().replace(
        "name: mlserver-1.x", "name: broken-1.x").replace("    - name: mlserver\n", "    - name: mlserver\n" + command)
    isvc = (ROOT / "sample_models" / "sklearn-mnist-svm.yaml").read_text().replace(
        "name: sklearn\n", "name: sklearn\n      runtime: broken-1.x\n")
    return runtime + "\n---\n" + isvc


def test_a_runtime_that_exits_while_starting_fails_its_models_with_the_log_tail(
        docker_settings: Callable[..., Settings]) -> None:
    with EmulatorThread(docker_settings()) as emu:
        emu.apply_text(_broken_runtime_and_isvc("echo boom-in-container >&2; exit 3"))
        with pytest.raises(grpc.RpcError) as failure:
            grpc_infer(emu.grpc_address, grpc_request(SKLEARN))

    details = failure.value.details()
    assert "exited during startup" in details
    assert "boom-in-container" in details


def test_a_runtime_never_ready_fails_after_the_startup_timeout_with_the_log_tail(
        docker_settings: Callable[..., Settings], client: docker.DockerClient) -> None:
    with EmulatorThread(docker_settings(runtime_startup_timeout_s=3)) as emu:
        emu.apply_text(_broken_runtime_and_isvc("echo still-warming-up; exec sleep 600"))
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as failure:
            grpc_infer(emu.grpc_address, grpc_request(SKLEARN))
        waited = time.monotonic() - started
        session = emu.emulator.launcher.inner.session

    details = failure.value.details()
    assert "not ready after 3s" in details
    assert "still-warming-up" in details
    assert waited < 60
    assert session_containers(client, session) == []


def test_a_missing_image_names_the_image_and_how_to_build_it(docker_settings: Callable[..., Settings]) -> None:
    runtime = (ROOT / "runtimes" / "mlserver-1.x.yaml").read_text().replace("seldonio/mlserver:1.3.2",
                                                                             "no-such-runtime:1")
    settings = docker_settings(image_overrides={"no-such-runtime:1": "also-not-built:2"})
    with EmulatorThread(settings) as emu:
        emu.apply_text(runtime + "\n---\n" + (ROOT / "sample_models" / "sklearn-mnist-svm.yaml").read_text())
        with pytest.raises(grpc.RpcError) as failure:
            grpc_infer(emu.grpc_address, grpc_request(SKLEARN))

    details = failure.value.details()
    assert "'no-such-runtime:1' is not available" in details
    assert "'also-not-built:2'" in details
    assert "MMEMU_IMAGE_OVERRIDES" in details


def _containers_of_pid(client: docker.DockerClient, pid: int) -> list[str]:
    owner = f"process:{boot_id()}:{pid_namespace()}:{pid}:"
    summaries = client.api.containers(all=True, filters={"label": LABEL_OWNER})
    return sorted(s["Names"][0].lstrip("/") for s in summaries if s["Labels"][LABEL_OWNER].startswith(owner))
