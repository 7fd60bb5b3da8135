"""Pull a model's files into `<models_dir>/<model_id>/`, atomically, as ModelMesh's embedded puller does."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from ..errors import StorageError, UnsupportedError
from .confine import relative_path
from .resolve import ResolvedStorage
from .secrets import redact, secret_values

__all__ = ["PulledModel", "Puller", "StorageProvider"]


@dataclass(frozen=True)
class PulledModel:
    model_path: Path
    """`<models_dir>/<model_id>/<basename of the storage path>`."""
    disk_size_bytes: int
    schema_path: Path | None = None


class StorageProvider(Protocol):
    """Copies (or links) the object or prefix at `path` into `target`, which does not exist yet.

    Raises StorageError (or UnsupportedError); the puller adds where the model comes from and removes credentials.
    """

    def fetch(self, storage: ResolvedStorage, path: str, target: Path) -> None: ...


class Puller:
    def __init__(self, providers: dict[str, StorageProvider]):
        self._providers = providers

    async def pull(self, model_id: str, storage: ResolvedStorage, models_dir: Path) -> PulledModel:
        return await asyncio.to_thread(self._pull, model_id, storage, models_dir)

    def _pull(self, model_id: str, storage: ResolvedStorage, models_dir: Path) -> PulledModel:
        provider = self._providers.get(storage.type)
        if provider is None:
            raise StorageError(
                f"Failed to pull model from storage due to error: could not process pull command: no provider "
                f"registered for repositories of type '{storage.type}' ({storage.describe()}; "
                f"supported: {', '.join(sorted(self._providers))})"
            )
        model_dir = models_dir / relative_path(model_id, "model id").name
        staging = Path(tempfile.mkdtemp(prefix=f".pull-{model_id}-", dir=models_dir))
        try:
            model_name = _local_name(storage.model_path)
            self._fetch(provider, storage, storage.model_path, staging / model_name, "path")
            schema_name = None
            if storage.schema_path:
                schema_name = _local_name(storage.schema_path)
                if schema_name == model_name:
                    schema_name = "_schema.json"
                self._fetch(provider, storage, storage.schema_path, staging / schema_name, "schemaPath")
            size = _disk_size(staging)
            shutil.rmtree(model_dir, ignore_errors=True)
            staging.rename(model_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return PulledModel(
            model_path=model_dir / model_name,
            disk_size_bytes=size,
            schema_path=model_dir / schema_name if schema_name else None,
        )

    @staticmethod
    def _fetch(provider: StorageProvider, storage: ResolvedStorage, path: str, target: Path, field: str) -> None:
        try:
            relative_path(path, f"storage {field}")
            provider.fetch(storage, path, target)
            return
        except UnsupportedError as exc:
            raise UnsupportedError(_message(exc.message, storage)) from None
        except StorageError as exc:
            cause = exc.message
        except OSError as exc:
            cause = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else exc.strerror or str(exc)
        raise StorageError(_message(f"Failed to pull model from storage due to error: {cause}", storage))

    @staticmethod
    def remove(model_id: str, models_dir: Path) -> None:
        shutil.rmtree(models_dir / relative_path(model_id, "model id").name, ignore_errors=True)


def _message(text: str, storage: ResolvedStorage) -> str:
    return redact(f"{text} ({storage.describe()})", secret_values(storage.entry))


def _local_name(path: str) -> str:
    name = PurePosixPath(path.strip("/")).name
    return name if name not in ("", ".") else "_model"


def _disk_size(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        if path.is_file():  # follows symlinks, as the upstream puller does
            total += path.stat().st_size
    return total
