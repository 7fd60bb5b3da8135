"""Launchers start runtime instances (one per ServingRuntime replica): `process` or `docker`."""

from .base import Launcher, RuntimeInstance, RuntimePorts

__all__ = ["Launcher", "RuntimeInstance", "RuntimePorts"]
