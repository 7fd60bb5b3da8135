"""Model storage: resolving storage-config entries and pulling model files into a models dir."""

from .puller import PulledModel, Puller, StorageProvider
from .resolve import EMBEDDED_STORAGE_CONFIG, ResolvedStorage, resolve_storage

__all__ = [
    "EMBEDDED_STORAGE_CONFIG",
    "PulledModel",
    "Puller",
    "ResolvedStorage",
    "StorageProvider",
    "resolve_storage",
]
