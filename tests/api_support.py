"""A kubeconfig for an emulator started in-process, so that the client commands reach its management API."""

from __future__ import annotations

from pathlib import Path

from emulator.app import Emulator
from emulator.kube.kubeconfig import write_kubeconfig

__all__ = ["kubeconfig_for"]


def kubeconfig_for(emulator: Emulator, path: Path) -> Path:
    """Write what `serve` writes (address, token, serving certificate) for this emulator to `path`."""
    write_kubeconfig(path, server=emulator.api_client_url or "", token=emulator.api_token,
                     ca_pem=emulator.api_certificate, namespace=emulator.settings.namespace)
    return path
