"""Which runtime containers have exited, from the daemon's event stream: `is_running()` is asked on every
request, so it must not cost a call to the daemon."""

from __future__ import annotations

import logging
import threading
from typing import Any

import docker

__all__ = ["ContainerWatch"]

log = logging.getLogger(__name__)


class ContainerWatch:
    """Follows `die` and `destroy` events of the containers carrying `label` (`key=value`) in a daemon thread.

    `healthy` turns False if the stream breaks (the daemon restarted); callers then ask the daemon instead.
    """

    def __init__(self, client: docker.DockerClient, label: str):
        self._client = client
        self._label = label
        self._exited: set[str] = set()
        self._lock = threading.Lock()
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self.healthy = False

    def start(self) -> None:
        """Subscribe before returning, so that no event of a container started afterwards is missed."""
        self._stream = self._client.events(
            decode=True, filters={"type": "container", "label": self._label, "event": ["die", "destroy"]},
        )
        self.healthy = True
        self._thread = threading.Thread(target=self._follow, args=(self._stream,), name="docker-events",
                                        daemon=True)
        self._thread.start()

    def exited(self, container_id: str) -> bool:
        with self._lock:
            return container_id in self._exited

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._exited.discard(container_id)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        self.healthy = False
        if stream is not None:
            stream.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _follow(self, stream: Any) -> None:
        try:
            for event in stream:
                container_id = event.get("id") or event.get("Actor", {}).get("ID")
                if container_id:
                    with self._lock:
                        self._exited.add(container_id)
        except Exception as exc:  # the stream broke, or close() cut it
            if self._stream is stream:
                log.warning("lost the Docker event stream (%s); polling container states instead", exc)
        finally:
            if self._stream is stream:
                self.healthy = False
