"""Labels on runtime containers, and the reaper that removes those whose emulator is gone."""

from __future__ import annotations

import logging

import docker
import docker.errors

from .docker_site import boot_id, pid_namespace, start_ticks

__all__ = ["LABEL_INSTANCE", "LABEL_OWNER", "LABEL_RUNTIME", "LABEL_SESSION", "owner_alive", "reap_leftovers"]

log = logging.getLogger(__name__)

LABEL_SESSION = "modelmesh-emulator.session"
"""One value per launcher: the containers one emulator started."""
LABEL_OWNER = "modelmesh-emulator.owner"
"""The emulator process or container (see docker_site.DockerSite.owner); the reaper checks it is alive."""
LABEL_RUNTIME = "modelmesh-emulator.runtime"
LABEL_INSTANCE = "modelmesh-emulator.instance"


def reap_leftovers(client: docker.DockerClient) -> list[str]:
    """Remove the runtime containers of emulators that are gone (killed before they could stop them)."""
    removed = []
    verdicts: dict[str, bool] = {}
    # The list endpoint alone: containers may vanish meanwhile (another emulator reaping, or stopping its own).
    for summary in client.api.containers(all=True, filters={"label": LABEL_SESSION}):
        labels, name = summary.get("Labels") or {}, (summary.get("Names") or ["?"])[0].lstrip("/")
        owner = labels.get(LABEL_OWNER, "")
        if owner not in verdicts:
            verdicts[owner] = owner_alive(client, owner)
        if verdicts[owner]:
            continue
        log.warning("removing runtime container %s (%s): the emulator that started it is gone", name,
                    labels.get(LABEL_RUNTIME, "?"))
        try:
            client.api.remove_container(summary["Id"], force=True, v=True)
        except docker.errors.NotFound:
            continue
        removed.append(name)
    return removed


def owner_alive(client: docker.DockerClient, owner: str) -> bool:
    """Whether the emulator named by an owner label still runs; True when that cannot be told from here."""
    kind, _, rest = owner.partition(":")
    if kind == "container":
        container_id, _, started_at = rest.partition(":")
        try:
            state = client.containers.get(container_id).attrs["State"]
        except docker.errors.NotFound:
            return False
        return bool(state.get("Running")) and state.get("StartedAt") == started_at
    if kind == "process":
        owner_boot, owner_namespace, pid, start = [*rest.split(":"), "", "", ""][:4]
        if owner_boot != boot_id():
            return False  # the machine rebooted since
        if owner_namespace != pid_namespace() or not pid.isdigit():
            return True  # a process we cannot see (e.g. on the host while we run in a container)
        return start_ticks(int(pid)) == start
    return True
