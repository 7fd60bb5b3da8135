"""Storage types ModelMesh knows that the emulator does not implement."""

from __future__ import annotations

from pathlib import Path

from ..errors import UnsupportedError
from .resolve import ResolvedStorage

__all__ = ["UnsupportedStorage"]


class UnsupportedStorage:
    def __init__(self, service: str):
        self.service = service

    def fetch(self, storage: ResolvedStorage, path: str, target: Path) -> None:
        raise UnsupportedError(
            f"storage type '{storage.type}' ({self.service}) is not supported by the emulator; "
            "use s3 (MinIO or S3), pvc or http storage instead"
        )
