"""Adapters speak to a runtime's management API the way ModelMesh's built-in adapters do."""

from .base import AdapterFactory, RuntimeAdapter, RuntimeStatus

__all__ = ["AdapterFactory", "RuntimeAdapter", "RuntimeStatus"]
