"""Running the real `kubectl` against a `serve` subprocess, as the tests/test_kubectl*.py files do."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT
from tests.control.test_cli_e2e import Served

__all__ = ["kubectl", "kubectl_env"]


def kubectl_env(served: Served, cache_dir: Path) -> dict[str, str]:
    """KUBECONFIG from serve, and discovery cached in a fresh directory (kubectl caches it for 6 h)."""
    return served.env | {"KUBECACHEDIR": str(cache_dir)}


def kubectl(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=240, cwd=ROOT)
    if check:
        assert result.returncode == 0, result.stderr
    return result
