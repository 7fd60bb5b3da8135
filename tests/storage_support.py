"""Pull a model straight through resolve_storage + Puller, as placement does, for storage tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from emulator.spec import StorageLocation
from emulator.storage import PulledModel, Puller, resolve_storage

__all__ = ["pull", "tree"]


def pull(puller: Puller, models_dir: Path, config: dict[str, dict[str, Any]], *, path: str = "",
         key: str | None = None, params: dict[str, str] | None = None, schema: str | None = None,
         model_id: str = "model-1") -> PulledModel:
    location = StorageLocation(path=path, schema_path=schema, storage_key=key, storage_params=params)
    models_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(puller.pull(model_id, resolve_storage(location, config), models_dir))


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (following symlinks) as relative path → contents."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
