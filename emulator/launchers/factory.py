"""Pick the launcher named by settings; `auto` is docker when a Docker daemon answers, else process."""

from __future__ import annotations

import logging

from ..settings import Settings
from .backoff import BackoffLauncher
from .base import Launcher
from .process import ProcessLauncher

__all__ = ["build_launcher", "docker_daemon_answers"]

log = logging.getLogger(__name__)


def build_launcher(settings: Settings) -> Launcher:
    choice = settings.launcher
    if choice == "auto":
        choice = "docker" if docker_daemon_answers() else "process"
        log.info("launcher auto: %s", choice)
    if choice == "docker":
        from .docker import DockerLauncher  # imports the docker SDK only when used

        read_only = tuple(p for p in (settings.pvc_root.resolve(),) if p.is_dir())
        launcher: Launcher = DockerLauncher.from_env(
            image_overrides=settings.image_overrides, stop_grace_s=settings.runtime_stop_grace_s,
            read_only_dirs=read_only,
        )
    else:
        launcher = ProcessLauncher(stop_grace_s=settings.runtime_stop_grace_s, host="127.0.0.1",
                                   reap_dir=settings.cache_dir)
    return BackoffLauncher(launcher)


def docker_daemon_answers(timeout_s: float = 2.0) -> bool:
    import docker

    try:
        client = docker.from_env(timeout=timeout_s)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()
