"""free_port: ports below the kernel's ephemeral range, where port-0 binds elsewhere cannot take them."""

from __future__ import annotations

import socket
from pathlib import Path

from emulator.launchers.ports import free_port


def test_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    ephemeral_start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])

    ports = [free_port() for _ in range(100)]

    assert len(set(ports)) == len(ports)
    assert all(port < ephemeral_start for port in ports)
    for port in ports[:10]:
        with socket.create_server(("127.0.0.1", port)):
            pass

