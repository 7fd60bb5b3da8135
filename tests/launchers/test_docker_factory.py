"""`launcher: auto` is docker when a Docker daemon answers, else process; `docker` without a daemon is an error
that says so."""

from __future__ import annotations

import pytest

from emulator.errors import RuntimeStartError
from emulator.launchers.factory import build_launcher
from emulator.settings import Settings
from tests.docker_support import docker_client_or_skip

NO_DAEMON = "unix:///nonexistent/docker.sock"


def test_auto_is_the_process_launcher_when_no_docker_daemon_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_DAEMON)

    assert build_launcher(Settings(launcher="auto")).name == "process"


def test_the_docker_launcher_without_a_daemon_is_an_error_naming_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_DAEMON)

    with pytest.raises(RuntimeStartError, match="docker launcher: no Docker daemon answers"):
        build_launcher(Settings(launcher="docker"))


@pytest.mark.docker
def test_auto_is_the_docker_launcher_when_a_daemon_answers() -> None:
    docker_client_or_skip().close()

    launcher = build_launcher(Settings(launcher="auto"))

    assert launcher.name == "docker"
    launcher.inner.client.close()  # type: ignore[attr-defined]
