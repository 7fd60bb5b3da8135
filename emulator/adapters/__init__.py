"""Adapters speak to a runtime's management API the way ModelMesh's built-in adapters do."""

from .base import SPI_ADAPTER, AdapterFactory, LoadRequest, RuntimeAdapter, RuntimeStatus, SpiRuntimeAdapter

__all__ = ["SPI_ADAPTER", "AdapterFactory", "LoadRequest", "RuntimeAdapter", "RuntimeStatus", "SpiRuntimeAdapter"]
