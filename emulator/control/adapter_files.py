"""The files the built-in adapter wrote for a model in a runtime instance (MLServer's `model-settings.json`,
Triton's `config.pbtxt` and repository layout, TorchServe's and OVMS's configuration), for `describe`: the first
thing to read when a runtime refuses a model.

Only the instance's models directory is read; symlinks (to the pulled files) are shown with their target, never
followed; listings and contents are bounded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["adapter_files"]

_MAX_ENTRIES = 50
_MAX_CONTENT_BYTES = 8192
_CONFIG_SUFFIXES = (".json", ".pbtxt", ".properties", ".yaml", ".yml", ".txt")


def _model_dirs(models_dir: Path, model_id: str) -> list[Path]:
    """`<models>/<adapter dir>/<model id>` (what the adapter wrote); the puller's own `<models>/<model id>` holds the
    pulled files, listed only when no adapter directory exists (a runtime without builtInAdapter)."""
    written = sorted(sub / model_id for sub in models_dir.glob("_*_models") if (sub / model_id).is_dir())
    pulled = models_dir / model_id
    return written or ([pulled] if pulled.is_dir() else [])


def _entry(path: Path, root: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": str(path.relative_to(root))}
    if path.is_symlink():
        entry["linkTo"] = os.readlink(path)
        return entry
    size = path.stat().st_size
    entry["sizeBytes"] = size
    if path.suffix in _CONFIG_SUFFIXES and size <= _MAX_CONTENT_BYTES:
        entry["content"] = path.read_text(errors="replace")
    return entry


def adapter_files(models_dir: Path, model_id: str) -> list[dict[str, Any]]:
    """Files under the model's directories (paths relative to `models_dir`), small configuration files with their
    content; at most 50. Blocking: call it in a worker thread."""
    if "/" in model_id or model_id in ("", ".", ".."):
        return []
    entries: list[dict[str, Any]] = []
    for directory in _model_dirs(models_dir, model_id):
        for current, dirs, names in os.walk(directory):  # does not descend into symlinked directories
            dirs.sort()
            for name in sorted(names) + [d for d in dirs if (Path(current) / d).is_symlink()]:
                if len(entries) >= _MAX_ENTRIES:
                    return entries
                entries.append(_entry(Path(current) / name, models_dir))
    return entries
