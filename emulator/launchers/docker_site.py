"""Where the emulator runs relative to the Docker daemon, and what follows for runtime containers.

On the host, runtime containers publish their ports on 127.0.0.1 and bind-mount host paths as they are. In a
container (docker compose), the emulator talks to the host's daemon through the mounted socket: paths it sees
are not host paths, and 127.0.0.1 is its own loopback. So it inspects its own container: a path is translated
through the mount that holds it (a named volume's `Source` is a host path the daemon can bind), and runtime
containers join the emulator's network and are reached at their address there.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import docker
import docker.errors

from ..errors import RuntimeStartError

__all__ = [
    "DockerSite", "boot_id", "detect_site", "own_container_id", "pid_namespace", "process_owner", "start_ticks",
]

_CONTAINER_ID = re.compile(r"/(?:docker/)?containers/([0-9a-f]{64})/")


@dataclass(frozen=True)
class DockerSite:
    owner: str
    """Who started a container (label `modelmesh-emulator.owner`): this process, or this emulator container."""
    container_id: str | None = None
    """The emulator's own container, when it runs in one."""
    network: str | None = None
    """The network runtime containers join; None: Docker's default bridge, ports published on 127.0.0.1."""
    mounts: tuple[tuple[str, str], ...] = ()
    """(path in the emulator's container, host path), longest first."""

    @property
    def in_container(self) -> bool:
        return self.container_id is not None

    def host_path(self, path: Path) -> str:
        """The daemon's name for a path the emulator sees."""
        if not self.in_container:
            return str(path)
        posix = PurePosixPath(path)
        for destination, source in self.mounts:
            if posix == PurePosixPath(destination) or PurePosixPath(destination) in posix.parents:
                return str(PurePosixPath(source) / posix.relative_to(destination))
        raise RuntimeStartError(
            f"{path} is on no volume or bind mount of the emulator's container {self.container_id[:12]}, so runtime "
            "containers cannot mount it: mount a volume at MMEMU_CACHE_DIR (docker-compose.yml does)"
        )


def detect_site(client: docker.DockerClient) -> DockerSite:
    container_id = own_container_id()
    if container_id is None:
        return DockerSite(owner=process_owner())
    try:
        attrs = client.containers.get(container_id).attrs
    except docker.errors.NotFound:  # a container of another daemon (docker-in-docker): we are its host
        return DockerSite(owner=process_owner())
    mounts = sorted(((m["Destination"], m["Source"]) for m in attrs.get("Mounts", []) if m.get("Source")),
                    key=lambda mount: len(mount[0]), reverse=True)
    networks = list(attrs["NetworkSettings"].get("Networks") or {})
    return DockerSite(
        owner=f"container:{container_id}:{attrs['State']['StartedAt']}",
        container_id=container_id,
        network=networks[0] if networks else None,
        mounts=tuple(mounts),
    )


def own_container_id() -> str | None:
    """This process's container, from the files Docker mounts into it (`/etc/hostname` and friends)."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return None
    if not Path("/.dockerenv").exists() and "/containers/" not in mountinfo:
        return None
    match = _CONTAINER_ID.search(mountinfo)
    return match.group(1) if match else None


def process_owner() -> str:
    """`process:<boot id>:<pid namespace>:<pid>:<start time>`: unique to this process, even across pid reuse."""
    return f"process:{boot_id()}:{pid_namespace()}:{os.getpid()}:{start_ticks(os.getpid())}"


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        return "unknown"


def start_ticks(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (the process's start time), or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]
