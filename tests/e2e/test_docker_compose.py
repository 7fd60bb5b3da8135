"""`docker compose up` end to end, as a user runs it where no registry is reachable: the offline override, health,
grpcurl on 8033 and curl on 8008 for the built-in sklearn runtime and the custom runtime, the emulator container
killed and started again (it removes the runtime containers it left), then `down -v`."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from emulator.launchers.docker_labels import LABEL_OWNER
from emulator.launchers.ports import free_port
from tests.docker_support import RUNTIME_IMAGES, docker_client_or_skip, require_images, unavailable
from tests.v2_client import REQUESTS, expected_outputs

pytestmark = [pytest.mark.docker, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = ("-f", "docker-compose.yml", "-f", "docker-compose.offline.yml")
OFFLINE_BASE = "modelmesh-emulator/python:3.11-offline"
GRPCURL = Path(sys.executable).with_name("grpcurl")
ISVCS = ("example-sklearn-mnist-svm", "example-custom-mnist")


class Stack:
    def __init__(self, project: str, env: dict[str, str]):
        self.project, self.env = project, env
        self.grpc = f"127.0.0.1:{env['MMEMU_COMPOSE_GRPC_PORT']}"
        self.rest = f"http://127.0.0.1:{env['MMEMU_COMPOSE_REST_PORT']}"

    def compose(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "compose", "-p", self.project, *COMPOSE_FILES, *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    client = docker_client_or_skip()
    version = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True)
    if version.returncode != 0 or not version.stdout.strip().lstrip("v").startswith("2"):
        unavailable("`docker compose` v2 is not installed (scripts/install-docker.sh)")
    for tool in ("curl", str(GRPCURL)):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed")
    require_images(client, (*RUNTIME_IMAGES, OFFLINE_BASE))
    yield client
    client.close()


@pytest.fixture(scope="module")
def stack(client: docker.DockerClient) -> Iterator[Stack]:
    env = {**os.environ, "MMEMU_COMPOSE_GRPC_PORT": str(free_port()), "MMEMU_COMPOSE_REST_PORT": str(free_port()),
           "MMEMU_COMPOSE_API_PORT": str(free_port())}
    stack = Stack(f"mmemu-e2e-{secrets.token_hex(3)}", env)
    try:
        up = stack.compose("up", "-d", "--build")
        assert up.returncode == 0, up.stdout + up.stderr
        yield stack
    finally:
        # Even when the test failed: the project, and any runtime container its emulator could not remove.
        emulators = [c.id for c in client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={stack.project}"})]
        stack.compose("down", "-v", timeout=300)
        for leftover in _runtime_containers(client, emulators):
            client.api.remove_container(leftover["Id"], force=True, v=True)


def _emulator(client: docker.DockerClient, project: str) -> Any:
    found = client.containers.list(all=True, filters={"label": [f"com.docker.compose.project={project}",
                                                               "com.docker.compose.service=emulator"]})
    assert len(found) == 1, found
    return found[0]


def _wait_healthy(client: docker.DockerClient, stack: Stack, timeout_s: float = 180) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        emulator = _emulator(client, stack.project)
        state = emulator.attrs["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return emulator
        assert state["Status"] == "running", emulator.logs(tail=50).decode()
        assert time.monotonic() < deadline, "emulator not healthy:\n" + emulator.logs(tail=50).decode()
        time.sleep(1)


def _runtime_containers(client: docker.DockerClient, emulator_ids: list[str]) -> list[dict[str, Any]]:
    """The runtime containers (running or not) started by these emulator containers."""
    owners = tuple(f"container:{container_id}:" for container_id in emulator_ids)
    return [s for s in client.api.containers(all=True, filters={"label": LABEL_OWNER})
            if owners and s["Labels"][LABEL_OWNER].startswith(owners)]


def _by_name(outputs: list[dict[str, Any]]) -> dict[str, list[float]]:
    found = {}
    for output in outputs:
        if "data" in output:  # REST
            found[output["name"]] = output["data"]
        else:  # gRPC as protobuf JSON: int64 values are strings
            contents = next(iter(output["contents"].values()))
            found[output["name"]] = [float(value) for value in contents]
    return found


def _check(isvc: str, body: dict[str, Any]) -> None:
    assert body["model_name"].startswith(f"{isvc}__isvc-")
    outputs = _by_name(body["outputs"])
    for expected in expected_outputs(isvc):
        assert outputs[expected["name"]] == pytest.approx(expected["data"])


def _grpcurl(stack: Stack, isvc: str) -> dict[str, Any]:
    with (REQUESTS / f"{isvc}.grpc.json").open() as request:
        grpcurl = subprocess.run(
            [str(GRPCURL), "-plaintext", "-max-time", "180", "-d", "@", stack.grpc,
             "inference.GRPCInferenceService/ModelInfer"],
            stdin=request, capture_output=True, text=True, timeout=200,
        )
    assert grpcurl.returncode == 0, grpcurl.stderr
    return json.loads(grpcurl.stdout)


def _curl(stack: Stack, isvc: str) -> dict[str, Any]:
    curl = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "--max-time", "180", "-H", "content-type: application/json",
         "-d", f"@{REQUESTS / f'{isvc}.json'}", f"{stack.rest}/v2/models/{isvc}/infer"],
        capture_output=True, text=True, timeout=200,
    )
    assert curl.returncode == 0, curl.stdout + curl.stderr
    return json.loads(curl.stdout)


def test_compose_up_serves_the_sample_models_and_down_leaves_no_container(stack: Stack,
                                                                          client: docker.DockerClient) -> None:
    emulator = _wait_healthy(client, stack)

    for isvc in ISVCS:
        _check(isvc, _grpcurl(stack, isvc))
        _check(isvc, _curl(stack, isvc))

    runtimes = _runtime_containers(client, [emulator.id])
    assert len(runtimes) == 3, "one container per runtime: mlserver-1.x, custom-mnist-0.x and mmesh-example-0.x"

    # An emulator killed (no chance to stop its runtimes) and started again removes what it left behind.
    emulator.kill()
    restart = stack.compose("up", "-d")
    assert restart.returncode == 0, restart.stdout + restart.stderr
    _wait_healthy(client, stack)
    _check(ISVCS[0], _curl(stack, ISVCS[0]))
    now = {s["Id"] for s in _runtime_containers(client, [emulator.id])}
    assert now and not now & {s["Id"] for s in runtimes}, "the killed emulator's runtime containers were removed"

    down = stack.compose("down", "-v", timeout=300)

    assert down.returncode == 0, down.stdout + down.stderr
    left = client.api.containers(all=True, filters={"label": f"com.docker.compose.project={stack.project}"})
    left += _runtime_containers(client, [emulator.id])
    assert left == []
    assert client.volumes.list(filters={"label": f"com.docker.compose.project={stack.project}"}) == []
