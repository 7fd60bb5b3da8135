"""For tests/*/test_docker_*.py: a Docker client, or a skip with the reason (a failure under MMEMU_REQUIRE_DOCKER=1,
as in CI, where a missing daemon or image is a broken setup rather than a developer machine without Docker)."""

from __future__ import annotations

import os
from collections.abc import Iterable

import docker
import docker.errors
import pytest

from emulator.launchers.docker_labels import LABEL_SESSION

__all__ = ["RUNTIME_IMAGES", "docker_client_or_skip", "require_images", "session_containers", "unavailable"]

RUNTIME_IMAGES = ("modelmesh-emulator/mlserver:1.7.1", "custom-mnist-runtime:latest", "mmesh-example-runtime:latest")


def unavailable(reason: str) -> None:
    """Skip, or fail when MMEMU_REQUIRE_DOCKER=1."""
    if os.environ.get("MMEMU_REQUIRE_DOCKER") == "1":
        pytest.fail(f"MMEMU_REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def docker_client_or_skip() -> docker.DockerClient:
    address = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as exc:
        unavailable(f"no Docker daemon answers at {address} ({str(exc).splitlines()[0] if str(exc) else exc!r})")
    return client


def require_images(client: docker.DockerClient, images: Iterable[str]) -> None:
    missing = []
    for image in images:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    if missing:
        unavailable(f"image(s) {', '.join(missing)} not built: run scripts/build-images.sh")


def session_containers(client: docker.DockerClient, session: str) -> list[str]:
    """Names of the containers (running or not) one docker launcher started."""
    return [summary["Names"][0].lstrip("/")
            for summary in client.api.containers(all=True, filters={"label": f"{LABEL_SESSION}={session}"})]
