"""The one confinement rule for names and paths that come from manifests and storage entries.

Buckets and claim names are one directory name under their root; model paths, schema paths and object keys are
relative paths under theirs. `..`, NUL and backslashes are refused everywhere (a backslash is a separator to
Windows tools and to some S3 clients), so whatever a manifest says resolves inside its root: the local S3
directory, the PVC directory or the model's own directory. Symlinks inside a root are followed: they were put
there by whoever owns the root, not by a manifest.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..errors import StorageError

__all__ = ["StoragePathError", "directory_name", "join_inside", "relative_path"]


class StoragePathError(StorageError):
    """A bucket, claim name, path or object key that would leave its root."""


def _refuse_tricks(value: str, what: str) -> None:
    """`what` names the value, with its repr (which shows control characters)."""
    if "\0" in value:
        raise StoragePathError(f"{what} contains a NUL character")
    if "\\" in value:
        raise StoragePathError(f"{what} contains a backslash, which storage names and paths may not")


def relative_path(value: str, what: str, root: str = "the model directory") -> PurePosixPath:
    """`value` as a relative POSIX path under `root`; a leading `/` is dropped (paths are keys in their bucket)."""
    _refuse_tricks(value, f"{what} {value!r}")
    pure = PurePosixPath(value.lstrip("/"))
    if ".." in pure.parts:
        raise StoragePathError(f"{what} {value!r} escapes {root} ('..' is not allowed)")
    return pure


def directory_name(value: str, what: str, root: str, origin: str | None = None) -> str:
    """`value` as one directory name directly under `root`: a bucket or a PersistentVolumeClaim name."""
    named = f"{what} {value!r}" + (f" (from {origin})" if origin else "")
    _refuse_tricks(value, named)
    if ".." in PurePosixPath(value).parts:
        raise StoragePathError(f"{named} escapes {root} ('..' is not allowed)")
    if value in ("", "."):
        raise StoragePathError(f"{named} is not a directory name")
    if "/" in value:
        raise StoragePathError(f"{named} must be one directory name under {root}, not a path")
    return value


def join_inside(root: Path, *parts: str | PurePosixPath) -> Path:
    """`root` joined with already checked parts, verified once more without touching the filesystem."""
    joined = root.joinpath(*parts)
    normalized, base = os.path.normpath(joined), os.path.normpath(root)
    if normalized != base and not normalized.startswith(base.rstrip(os.sep) + os.sep):
        raise StoragePathError(f"{joined} is outside {root}")
    return joined
