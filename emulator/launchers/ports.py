"""Free local TCP ports for runtime processes and test listeners.

A port is chosen at random below the kernel's ephemeral range, not by binding port 0: the kernel hands out
ephemeral ports to every port-0 bind and outgoing connection on the machine, so a port it just gave us can be
given to someone else before the runtime process binds it (MLServer then fails to bind and never becomes ready).
Below that range only other explicit choosers compete, and each port is handed out once per process.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

__all__ = ["free_port"]

_LOWEST = 10000
_TRIES = 200
_issued: set[int] = set()
_lock = threading.Lock()


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    highest = _ephemeral_start() - 1
    with _lock:
        if highest > _LOWEST:
            for _ in range(_TRIES):
                port = random.randint(_LOWEST, highest)
                if port not in _issued and _bindable(host, port):
                    _issued.add(port)
                    return port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        _issued.add(port)
        return port
