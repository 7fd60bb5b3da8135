"""Pick the launcher named by settings (`auto` resolves to what this machine can run)."""

from __future__ import annotations

from ..settings import Settings
from .base import Launcher
from .process import ProcessLauncher

__all__ = ["build_launcher"]


def build_launcher(settings: Settings) -> Launcher:
    return ProcessLauncher(stop_grace_s=settings.runtime_stop_grace_s, host="127.0.0.1")
