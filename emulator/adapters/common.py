"""What the built-in adapters share: the startup wait, the models directory's housekeeping and
layout rules, and ModelMesh's size estimate (modelmesh-runtime-adapter internal/util)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..errors import RuntimeStartError
from ..launchers import RuntimeInstance
from ..storage import PulledModel
from .base import MODEL_SIZE_MULTIPLIER

__all__ = [
    "container_path",
    "disk_size_estimate",
    "format_name",
    "largest_number_dir",
    "purge_models_dir",
    "remove_path",
    "wait_until_ready",
]

_READY_POLL_S = 0.1


async def wait_until_ready(instance: RuntimeInstance, runtime_name: str, probe: Callable[[], Awaitable[bool]],
                           timeout_s: float) -> None:
    """Poll `probe` (errors count as not ready) until it answers True; fail if the instance exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not instance.is_running():
            raise RuntimeStartError(_start_failure(instance, runtime_name, "exited during startup"))
        try:
            if await probe():
                return
        except Exception:  # a server still starting answers with anything from refusal to garbage
            pass
        if time.monotonic() > deadline:
            raise RuntimeStartError(_start_failure(instance, runtime_name, f"not ready after {timeout_s:g}s"))
        await asyncio.sleep(_READY_POLL_S)


def _start_failure(instance: RuntimeInstance, runtime_name: str, what: str) -> str:
    tail = instance.log_tail().rstrip()
    return (f"runtime {runtime_name!r} instance {instance.instance_id} {what}"
            + (f"; last log lines:\n{tail}" if tail else ""))


def purge_models_dir(models_dir: Path, runtime_subdir: str, keep: Callable[[Path], bool] = lambda _: False) -> None:
    """Clear `<models>/<runtime_subdir>/` (except what `keep` spares) and every other entry of `<models>/`:
    the adapter's `ClearDirectoryContents` and the puller's `ClearLocalModelStorage` at startup."""
    root = models_dir / runtime_subdir
    root.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if not keep(entry):
            remove_path(entry)
    for entry in models_dir.iterdir():
        if entry.name != runtime_subdir:
            remove_path(entry)


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def container_path(instance: RuntimeInstance, host_path: Path) -> str:
    """A path under the instance's models directory as the runtime sees it (`/models/...` in a container)."""
    relative = host_path.relative_to(instance.models_dir)
    return f"{instance.container_models_dir}/{relative}"


def format_name(model_type: str) -> str:
    """The adapters' model type: lower case, anything after `:` dropped."""
    return model_type.lower().split(":", 1)[0]


def largest_number_dir(directory: Path) -> str | None:
    """The largest positive numeric sub-directory, if every sub-directory is numeric (files are ignored)."""
    largest, name = 0, None
    for entry in directory.iterdir():
        if not entry.is_dir():
            continue
        if not entry.name.isdecimal():
            return None
        if int(entry.name) > largest:
            largest, name = int(entry.name), entry.name
    return name


def disk_size_estimate(pulled: PulledModel, default_size: int, multiplier: float = MODEL_SIZE_MULTIPLIER) -> int:
    """`CalcMemCapacity`: disk bytes x multiplier, the default size when the disk size is unknown."""
    if pulled.disk_size_bytes <= 0:
        return default_size
    return int(pulled.disk_size_bytes * multiplier)
